"""VideoPrism LvT's text tower (the official ``encoders.TextEncoder``, CoCa style).

``token_emb[ids]·√D`` plus a sinusoid (``[sin | cos]`` halves), then a class token ``cls_emb·√D``
appended at the end with no position; a causal transformer (ReLU FFN of width 4D, the model's logit cap)
in which a padded key is masked for every query and a padded query row is fully masked (uniform, as the
reference), the FFN outputs of padded rows zeroed; ``unimodal_ln``; the last (class) token.
Token ids come from `gesture_jax.text.videoprism_tokenizer.tokenize_texts`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from gesture_jax.models import videoprism_layers as vpl


def sinusoid(length: int, dim: int) -> jax.Array:
    """The reference's ``PositionalEmbedding`` [1, L, D], computed the same way in float32."""
    position = jnp.arange(length, dtype=jnp.float32)[None, :]
    half = dim // 2
    increment = math.log(10_000.0) / jnp.maximum(jnp.asarray(half, jnp.float32) - 1, 1)
    inv_timescales = jnp.exp(jnp.arange(half, dtype=jnp.float32) * -increment)
    scaled = position[:, :, None] * inv_timescales[None, None, :]
    table = jnp.concatenate([jnp.sin(scaled), jnp.cos(scaled)], axis=-1)
    return jnp.pad(table, [[0, 0], [0, 0], [0, dim % 2]])


class TextEncoder(nnx.Module):
    def __init__(self, c, *, dtype, rngs: nnx.Rngs):
        """`c`: the `videoprism.VideoPrismConfig`."""
        d = c.model_dim
        self.dtype = dtype
        self.config = c
        self.token_emb = nnx.Param(d**-0.5 * jax.random.normal(rngs.params(), (c.vocabulary_size, d)))
        self.cls_emb = nnx.Param(d**-0.5 * jax.random.normal(rngs.params(), (1, 1, d)))
        self.unimodal_transformer = vpl.make_stack(
            c, c.num_unimodal_layers, activation=jax.nn.relu, hidden=4 * d, dtype=dtype, rngs=rngs
        )
        self.unimodal_ln = vpl.LayerNorm(d)

    def __call__(self, token_ids: jax.Array, paddings: jax.Array) -> jax.Array:
        """ids [N, L], paddings [N, L] (1 = padding) → the class token's features [N, D] (unnormalised)."""
        if token_ids.ndim != 2 or paddings.shape != token_ids.shape:
            raise ValueError(
                f"expected token ids and paddings [N, L], got {token_ids.shape}, {paddings.shape}"
            )
        c, d = self.config, self.config.model_dim
        n, length = token_ids.shape
        x = self.token_emb[...][token_ids] * d**0.5 + sinusoid(length, d)
        cls = jnp.broadcast_to(self.cls_emb[...] * d**0.5, (n, 1, d))
        x = jnp.concatenate([x, cls], axis=1).astype(self.dtype)
        keep = 1.0 - jnp.concatenate([paddings.astype(jnp.float32), jnp.zeros((n, 1), jnp.float32)], axis=1)
        valid = keep > 0.5
        mask = valid[:, None, :, None] & valid[:, None, None, :]  # [N, 1, query, key]
        if c.enable_causal_atten:
            mask = mask & jnp.tril(jnp.ones((length + 1, length + 1), bool))
        x = vpl.run_stack(self.unimodal_transformer, x, mask=mask, keep=keep[..., None].astype(x.dtype))
        return self.unimodal_ln(x)[:, -1].astype(jnp.float32)
