"""``rocog_v2``: the RoCoG-v2 gesture videos (real and synthetic), built from a manual_dir or downloads."""

from tfds_builders.rocog_v2.rocog_v2_dataset_builder import Builder, RocogV2Config

__all__ = ["Builder", "RocogV2Config"]
