"""VideoPrism's building blocks, as the official ``layers.py``: LayerNorm with a (1 + scale) delta, the
per-head attention projections (``w`` [D, heads, head_dim]), attention with a logit cap or the pooler's
per-dim scale, the pre-norm transformer layer, the attention pooler and the L2 normalisation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

_LN_EPS = 1e-6


class LayerNorm(nnx.Module):
    """The reference LayerNorm: the stored ``scale`` is a delta, used as (1 + scale); statistics in fp32."""

    def __init__(self, dim: int):
        self.scale = nnx.Param(jnp.zeros((dim,), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((dim,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        x32 = x.astype(jnp.float32)
        mean = jnp.mean(x32, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x32 - mean), axis=-1, keepdims=True)
        y = (x32 - mean) * jax.lax.rsqrt(var + _LN_EPS)
        return (y * (self.scale[...] + 1.0) + self.bias[...]).astype(x.dtype)


def normal_param(rngs: nnx.Rngs, shape, scale: float) -> nnx.Param:
    return nnx.Param(scale * jax.random.normal(rngs.params(), shape, jnp.float32))


class Projection(nnx.Module):
    """``AttentionProjection``: D → [heads, head_dim] (``w`` [D, N, H], ``b`` [N, H]), or back (post)."""

    def __init__(self, dim: int, heads: int, head_dim: int, *, output: bool, rngs: nnx.Rngs):
        self.output = output
        self.w = normal_param(rngs, (dim, heads, head_dim), dim**-0.5)
        self.b = nnx.Param(jnp.zeros((dim,) if output else (heads, head_dim), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        w, b = self.w[...].astype(x.dtype), self.b[...].astype(x.dtype)
        return (
            jnp.einsum("...nh,dnh->...d", x, w) if self.output else jnp.einsum("...d,dnh->...nh", x, w)
        ) + b


class Attention(nnx.Module):
    """``DotProductAttention``: projections, q scaling, logit cap, mask (True = attend), fp32 softmax."""

    def __init__(self, dim: int, heads: int, head_dim: int, *, cap: float, per_dim_scale: bool, rngs):
        self.query = Projection(dim, heads, head_dim, output=False, rngs=rngs)
        self.key = Projection(dim, heads, head_dim, output=False, rngs=rngs)
        self.value = Projection(dim, heads, head_dim, output=False, rngs=rngs)
        self.post = Projection(dim, heads, head_dim, output=True, rngs=rngs)
        if per_dim_scale:  # PerDimScale (the pooler): q · 1.442695041/√H · softplus(per_dim_scale)
            self.per_dim_scale = nnx.Param(jnp.zeros((head_dim,), jnp.float32))
        self.head_scale = head_dim**-0.5 if not per_dim_scale else None
        self.cap = cap

    def __call__(self, q_in: jax.Array, kv_in: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        q, k, v = self.query(q_in), self.key(kv_in), self.value(kv_in)
        if self.head_scale is None:
            scale = jnp.asarray(1.442695041 / np.sqrt(q.shape[-1]), q.dtype)
            q = q * (scale * jax.nn.softplus(self.per_dim_scale[...].astype(q.dtype)))
        else:
            q = q * self.head_scale
        logits = jnp.einsum("btnh,bsnh->bnts", q, k)
        if self.cap > 0:
            cap = jnp.asarray(self.cap, logits.dtype)
            logits = cap * jnp.tanh(logits / cap)
        logits = logits.astype(jnp.float32)
        if mask is not None:  # masked logits → −0.7·max (a fully masked row becomes uniform, as there)
            logits = jnp.where(mask, logits, jnp.asarray(-0.7 * np.finfo(np.float32).max, jnp.float32))
        probs = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
        return self.post(jnp.einsum("bnts,bsnh->btnh", probs, v))


class FeedForward(nnx.Module):
    """``TransformerFeedForward`` without its residual: LN → Dense → act → Dense (padded rows zeroed)."""

    def __init__(self, dim: int, hidden: int, *, activation, dtype, rngs: nnx.Rngs):
        self.layer_norm = LayerNorm(dim)
        self.ffn_layer1 = nnx.Linear(dim, hidden, dtype=dtype, rngs=rngs)
        self.ffn_layer2 = nnx.Linear(hidden, dim, dtype=dtype, rngs=rngs)
        self.activation = activation

    def __call__(self, x: jax.Array, keep: jax.Array | None) -> jax.Array:
        h = self.activation(self.ffn_layer1(self.layer_norm(x)))
        h = h if keep is None else h * keep
        h = self.ffn_layer2(h)
        return h if keep is None else h * keep


def _gelu(x):
    return jax.nn.gelu(x, approximate=False)


class Layer(nnx.Module):
    """One pre-norm ``Transformer`` layer: x + attn(LN x), then x + ffn(x)."""

    def __init__(self, dim, heads, hidden, *, cap, activation, dtype, rngs):
        self.layer_norm = LayerNorm(dim)
        self.self_attention = Attention(dim, heads, dim // heads, cap=cap, per_dim_scale=False, rngs=rngs)
        self.ff_layer = FeedForward(dim, hidden, activation=activation, dtype=dtype, rngs=rngs)

    def __call__(self, x, *, mask=None, keep=None, drop_rate=0.0, key=None):
        keys = jax.random.split(key) if key is not None and drop_rate > 0 else (None, None)
        h = self.layer_norm(x)
        x = x + _drop_path(self.self_attention(h, h, mask), drop_rate, keys[0])
        return x + _drop_path(self.ff_layer(x, keep), drop_rate, keys[1])


def _drop_path(h: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    if key is None or rate == 0.0:
        return h
    kept = jax.random.bernoulli(key, 1.0 - rate, (h.shape[0],) + (1,) * (h.ndim - 1))
    return jnp.where(kept, h / (1.0 - rate), 0).astype(h.dtype)


def make_stack(c, depth: int, *, activation=_gelu, hidden=None, dtype, rngs) -> nnx.List:
    """`depth` layers of config `c` (model_dim, num_heads, mlp_dim or `hidden`, atten_logit_cap)."""
    hidden = hidden or c.mlp_dim
    return nnx.List(
        [
            Layer(
                c.model_dim,
                c.num_heads,
                hidden,
                cap=c.atten_logit_cap,
                activation=activation,
                dtype=dtype,
                rngs=rngs,
            )
            for _ in range(depth)
        ]
    )


def run_stack(stack, x, *, rates=(), key=None, **kwargs) -> jax.Array:
    for i, layer in enumerate(stack):
        rate = float(rates[i]) if len(rates) else 0.0
        x = layer(x, drop_rate=rate, key=jax.random.fold_in(key, i) if key is not None else None, **kwargs)
    return x


class AttentionPooler(nnx.Module):
    """``AttenTokenPoolingLayer``: one learned query over the tokens (width 4D, per-dim scale), then LN."""

    def __init__(self, c, *, rngs: nnx.Rngs):
        d = c.model_dim
        self.pooling_attention_query = normal_param(rngs, (1, d), d**-0.5)
        self.pooling_attention = Attention(
            d, c.num_heads, 4 * d // c.num_heads, cap=0.0, per_dim_scale=True, rngs=rngs
        )
        self.pooling_attention_layer_norm = LayerNorm(d)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        q = jnp.broadcast_to(
            self.pooling_attention_query[...].astype(tokens.dtype), (tokens.shape[0], 1, tokens.shape[-1])
        )
        return self.pooling_attention_layer_norm(self.pooling_attention(q, tokens))[:, 0]


def l2_normalize(x: jax.Array) -> jax.Array:
    """The reference's ``_l2_normalize``: x / √(Σx² + 1e-12), in float32."""
    x = x.astype(jnp.float32)
    return x / jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True) + 1e-12)
