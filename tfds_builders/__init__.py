"""TFDS dataset builders of the project; ``import tfds_builders`` registers every one of them.

No builder may import TensorFlow: they are prepared with ``file_format="array_record"`` and
read with ``tfds.data_source``.
"""

from tfds_builders import toy_gestures  # noqa: F401  (registers "toy_gestures")

# More builders (rocog_v2) will be imported here.
