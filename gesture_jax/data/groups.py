"""Which per-video metadata fields results are broken down by, per dataset (by exact feature name).

Real RoCoG-v2 videos: the subject, the camera distance and the view; synthetic ones: the generator's
parameters that take few values. The toy set: its lead arm and repetitions. Names are checked against
the records when read (`datasets.split_metadata`), so a renamed field fails loudly.
"""

from __future__ import annotations

_ROCOG_REAL = ("subject", "distance_m", "view")
_ROCOG_SYN = ("avatar", "terrain", "camera_yaw", "visual_realism", "mirrored", "pose", "race", "thickness")
_TOY = ("params.lead_arm", "params.repetitions")

# The generator parameters a synthetic gallery is attributed to (mode diagnose). RoCoG-v2: every scene and
# performance field the generator sets (the camera's orbit speed is 0 off the orbital view). The toy
# set: its timing, body and placement; not its colours (packed RGB integers, whose order means nothing)
# nor its camera degradations (always 0 in the synthetic look).
_ROCOG_SYN_GENERATOR = (
    "avatar",
    "race",
    "thickness",
    "terrain",
    "sun_temperature_k",
    "camera_yaw",
    "camera_distance_m",
    "camera_height_m",
    "visual_realism",
    "gesture_speed",
    "gesture_variation",
    "mirrored",
    "pose",
)
_TOY_GENERATOR = tuple(
    f"params.{name}"
    for name in (
        "repetitions",
        "speed",
        "num_frames",
        "phase",
        "amplitude",
        "lead_arm",
        "arm_lag",
        "idle_sway",
        "body_scale",
        "center_x",
        "center_y",
        "shoulder_width",
        "limb_thickness",
    )
)


def breakdown_fields(dataset: str) -> tuple[str, ...]:
    """Default breakdown fields of "<builder>/<config>"; () for a dataset without a table entry."""
    builder, _, config = dataset.partition("/")
    if builder == "rocog_v2":
        return _ROCOG_REAL if config.startswith("real") else _ROCOG_SYN
    if builder == "toy_gestures":
        return _TOY
    return ()


def attribution_fields(dataset: str) -> tuple[str, ...]:
    """The generator parameters of a synthetic "<builder>/<config>" (mode diagnose's attribution); an
    error for a dataset without generator metadata, so "auto" never silently attributes nothing."""
    builder, _, config = dataset.partition("/")
    if builder == "rocog_v2" and config.startswith("syn"):
        return _ROCOG_SYN_GENERATOR
    if builder in ("toy_gestures", "toy_motions"):
        return _TOY_GENERATOR
    raise ValueError(
        f"{dataset} has no known generator parameters to attribute to; set diagnose.attribute to its "
        "fields, or () for none"
    )
