"""SigLIP's transformer blocks as transformers' ``modeling_siglip`` has them: the pre-norm encoder layer
with separate q/k/v projections, the tanh-GELU MLP, and the attention-pooling (MAP) head; shared by the
vision and text towers of `gesture_jax.models.siglip`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gesture_jax.models import layers


def _gelu_tanh(x: jax.Array) -> jax.Array:
    return jax.nn.gelu(x, approximate=True)  # transformers' "gelu_pytorch_tanh"


def _drop_path(h: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    if key is None or rate == 0.0:
        return h
    keep = jax.random.bernoulli(key, 1.0 - rate, (h.shape[0],) + (1,) * (h.ndim - 1))
    return jnp.where(keep, h / (1.0 - rate), 0).astype(h.dtype)


class Mlp(nnx.Module):
    def __init__(self, dim: int, hidden: int, *, dtype, rngs: nnx.Rngs):
        self.fc1 = nnx.Linear(dim, hidden, dtype=dtype, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, dim, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(_gelu_tanh(self.fc1(x)))


class SelfAttention(nnx.Module):
    """transformers' SiglipAttention: separate q/k/v projections (with biases), no mask."""

    def __init__(self, dim: int, heads: int, *, dtype, attention_impl, rngs: nnx.Rngs):
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.attention_impl = attention_impl
        self.q_proj = nnx.Linear(dim, dim, dtype=dtype, rngs=rngs)
        self.k_proj = nnx.Linear(dim, dim, dtype=dtype, rngs=rngs)
        self.v_proj = nnx.Linear(dim, dim, dtype=dtype, rngs=rngs)
        self.out_proj = nnx.Linear(dim, dim, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        b, n, d = x.shape
        q, k, v = (
            p(x).reshape(b, n, self.heads, d // self.heads) for p in (self.q_proj, self.k_proj, self.v_proj)
        )
        return self.out_proj(layers.attention(q, k, v, impl=self.attention_impl).reshape(b, n, d))


class EncoderLayer(nnx.Module):
    """Pre-norm: x + self_attn(layer_norm1(x)), then x + mlp(layer_norm2(x))."""

    def __init__(self, dim, heads, mlp_dim, eps, *, dtype, attention_impl, rngs: nnx.Rngs):
        self.layer_norm1 = layers.layer_norm(dim, eps, dtype, rngs)
        self.self_attn = SelfAttention(dim, heads, dtype=dtype, attention_impl=attention_impl, rngs=rngs)
        self.layer_norm2 = layers.layer_norm(dim, eps, dtype, rngs)
        self.mlp = Mlp(dim, mlp_dim, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array, rate: float = 0.0, key: jax.Array | None = None) -> jax.Array:
        keys = jax.random.split(key) if key is not None and rate > 0 else (None, None)
        x = x + _drop_path(self.self_attn(self.layer_norm1(x)), rate, keys[0])
        return x + _drop_path(layers.token_map(lambda r: self.mlp(self.layer_norm2(r)), x), rate, keys[1])


def encoder(dim, heads, mlp_dim, depth, eps, *, dtype, attention_impl, rngs):
    return nnx.List(
        [
            EncoderLayer(dim, heads, mlp_dim, eps, dtype=dtype, attention_impl=attention_impl, rngs=rngs)
            for _ in range(depth)
        ]
    )


def run(
    blocks,
    x: jax.Array,
    drop_path_rate: float = 0.0,
    key: jax.Array | None = None,
    keep: tuple[int, ...] = (),
) -> jax.Array:
    """The blocks in order (drop path rising with depth); with `keep`, those blocks' outputs stacked."""
    rates = np.linspace(0.0, drop_path_rate, len(blocks)) if len(blocks) else []
    kept = {}
    for i, (block, rate) in enumerate(zip(blocks, rates)):
        x = block(x, float(rate), jax.random.fold_in(key, i) if key is not None else None)
        kept.update({i: x} if i in keep else {})
    return jnp.stack([kept[i] for i in keep]) if keep else x


def param(rngs: nnx.Rngs, *shape: int, scale: float = 0.02) -> nnx.Param:
    return nnx.Param(scale * jax.random.normal(rngs.params(), shape, jnp.float32))


class AttentionPoolingHead(nnx.Module):
    """SiglipMultiheadAttentionPoolingHead: torch MultiheadAttention of the probe over the tokens (one fused
    in_proj, q/k/v by rows), then a residual MLP behind a LayerNorm; the probe's row."""

    def __init__(self, width, heads, mlp_dim, eps, *, dtype, attention_impl, rngs: nnx.Rngs):
        self.dtype = dtype
        self.heads = heads
        self.attention_impl = attention_impl
        self.probe = param(rngs, 1, 1, width)
        self.in_proj = nnx.Linear(width, 3 * width, dtype=dtype, rngs=rngs)
        self.out_proj = nnx.Linear(width, width, dtype=dtype, rngs=rngs)
        self.layernorm = layers.layer_norm(width, eps, dtype, rngs)
        self.mlp = Mlp(width, mlp_dim, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        b, n, d = x.shape
        w = self.in_proj.kernel[...].astype(self.dtype)
        bias = self.in_proj.bias[...].astype(self.dtype)
        probe = self.probe[...].astype(self.dtype)
        q = (probe @ w[:, :d] + bias[:d]).reshape(1, 1, self.heads, d // self.heads)
        k, v = jnp.split(x @ w[:, d:] + bias[d:], 2, axis=-1)
        shape = (b, n, self.heads, d // self.heads)
        q = jnp.broadcast_to(q, (b, 1) + q.shape[2:])
        h = layers.attention(q, k.reshape(shape), v.reshape(shape), impl=self.attention_impl)
        h = self.out_proj(h.reshape(b, 1, d))
        h = h + self.mlp(self.layernorm(h))
        return h[:, 0]
