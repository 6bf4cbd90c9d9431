"""Which per-video metadata fields results are broken down by, per dataset (by exact feature name).

Real RoCoG-v2 videos: the subject, the camera distance and the view; synthetic ones: the generator's
parameters that take few values. The toy set: its lead arm and repetitions. Names are checked against
the records when read (`datasets.split_metadata`), so a renamed field fails loudly.
"""

from __future__ import annotations

_ROCOG_REAL = ("subject", "distance_m", "view")
_ROCOG_SYN = ("avatar", "terrain", "camera_yaw", "visual_realism", "mirrored", "pose", "race", "thickness")
_TOY = ("params.lead_arm", "params.repetitions")


def breakdown_fields(dataset: str) -> tuple[str, ...]:
    """Default breakdown fields of "<builder>/<config>"; () for a dataset without a table entry."""
    builder, _, config = dataset.partition("/")
    if builder == "rocog_v2":
        return _ROCOG_REAL if config.startswith("real") else _ROCOG_SYN
    if builder == "toy_gestures":
        return _TOY
    return ()
