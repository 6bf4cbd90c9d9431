"""``toy_motions``: the toy pre-training corpus, everyday motions of the toy figure."""

from tfds_builders.toy_motions.toy_motions_dataset_builder import Builder, ToyMotionsConfig

__all__ = ["Builder", "ToyMotionsConfig"]
