"""TFDS dataset builders of the project; ``import tfds_builders`` registers every one of them.

No builder may import TensorFlow: they are prepared with ``file_format="array_record"`` and
read with ``tfds.data_source``.
"""

from tfds_builders import (
    rocog_v2,  # noqa: F401  (registers "rocog_v2")
    toy_gestures,  # noqa: F401  (registers "toy_gestures")
)
