"""RoCoG-v2's seven gesture classes, in the index order of its class_dict.json (never alphabetical).

The toy gestures, the RoCoG-v2 builder and the zero-shot prompts all use this one list.
"""

ROCOG_V2_CLASSES: tuple[str, ...] = (
    "Advance",
    "Attention",
    "Rally",
    "MoveForward",
    "Halt",
    "FollowMe",
    "MoveInReverse",
)
