"""``toy_gestures``: procedural stick-figure version of RoCoG-v2 (see the builder module)."""

from tfds_builders.toy_gestures.toy_gestures_dataset_builder import Builder, ToyGesturesConfig

__all__ = ["Builder", "ToyGesturesConfig"]
