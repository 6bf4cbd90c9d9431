"""Encoder features of dataset splits: sharded extraction under jit, the on-disk cache and its manifest,
and `VideoVectors`, the typed value every evaluation reads."""
