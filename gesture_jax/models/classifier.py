"""An encoder with a linear classification head on its KNN feature, for fine-tuning.

Fine-tuning trains exactly the feature that KNN uses afterwards (``fc_norm(mean of tokens)`` for the
VideoMAE family, the normalised projection for ViCLIP), so before/after comparisons are like for like.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class Classifier(nnx.Module):
    def __init__(self, encoder: nnx.Module, feature_dim: int, num_classes: int, *, rngs: nnx.Rngs):
        self.encoder = encoder
        # Small initial weights (VideoMAE scales its head by 1e-3), so early steps do not wreck the features.
        self.head = nnx.Linear(
            feature_dim,
            num_classes,
            kernel_init=nnx.initializers.normal(0.001),
            bias_init=nnx.initializers.zeros,
            rngs=rngs,
        )

    def features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        return self.encoder.features(video, drop_path_key=drop_path_key)

    def __call__(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        """Class logits [B, num_classes] in float32."""
        return self.head(self.features(video, drop_path_key=drop_path_key)).astype(jnp.float32)


def feature_dim(encoder: nnx.Module) -> int:
    """The KNN feature's size, from the encoder's config (no forward pass)."""
    config = encoder.config
    return getattr(config, "output_dim", None) or config.embed_dim
