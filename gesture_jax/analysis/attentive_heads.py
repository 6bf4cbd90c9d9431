"""Probes that read a frozen encoder's tokens by attention, in Flax NNX.

* `AttentiveProbe`: V-JEPA 2's ``AttentiveClassifier`` (facebookresearch/vjepa2,
  ``src/models/attentive_pooler.py``): ``depth − 1`` pre-norm self-attention blocks over the tokens,
  then a cross-attention block in which one learned query attends to them (separate q and kv layers,
  no output projection; the norm on the tokens only), then a linear layer. Their evaluations use
  depth 4 and 16 heads, MLP ratio 4, exact GELU, LayerNorm ε 1e-5 (torch's default), qkv biases,
  normal(0, 0.02) weights (truncated at ±2, absolute) with zero biases, each block's output
  projections divided by √(2·layer) (``_rescale_blocks``), and the classifier left at torch's default
  ``nn.Linear`` init (uniform ±1/√fan_in, bias too), which their init never reaches.
* `AttentivePooler`: VideoGLUE's ``AttentionPoolerClassificationHead`` (tensorflow/models,
  ``official/projects/videoglue/modeling/heads/simple.py``): LayerNorm (ε 1e-6) on the tokens, a
  zero-initialised query token, Keras ``MultiHeadAttention`` (q, k, v and output layers with biases,
  Glorot-uniform kernels), dropout 0.5, then a dense layer (uniform ±0.05, as their model builder
  passes). No residual, no MLP.

Both take tokens ``[B, N, D]`` and return logits ``[B, C]``; neither adds position embeddings (the
tokens carry the encoder's). Dropout takes an explicit key (None: evaluation), so a grid of probes can
be trained under `jax.vmap` with the parameters as plain pytrees.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

HEADS = ("attentive_probe", "attentive_pooler")


@dataclasses.dataclass(frozen=True)
class HeadConfig:
    kind: str  # one of HEADS
    dim: int  # the tokens' channels
    num_classes: int
    depth: int = 4  # attentive_probe: blocks, the last the cross-attention one
    num_heads: int = 16  # 0: one head per 64 channels (VideoGLUE's 12 heads at 768)
    mlp_ratio: float = 4.0
    dropout: float = 0.5  # attentive_pooler, before the linear layer
    init_std: float = 0.02

    def __post_init__(self):
        if self.kind not in HEADS:
            raise ValueError(f"unknown token probe {self.kind!r}; expected one of {HEADS}")
        if self.num_heads == 0:
            if self.dim % 64:
                raise ValueError(f"num_heads 0 means 64 channels a head; the tokens have {self.dim} channels")
            object.__setattr__(self, "num_heads", self.dim // 64)
        if self.num_heads < 1 or self.dim % self.num_heads:
            raise ValueError(
                f"{self.kind}: {self.num_heads} heads do not divide the tokens' {self.dim} channels "
                f"(config.attentive.{self.kind}.num_heads)"
            )
        if self.depth < 1:
            raise ValueError(f"depth {self.depth}; expected at least 1 (the cross-attention block)")


def _linear(d_in: int, d_out: int, std: float, rngs: nnx.Rngs, scale: float = 1.0) -> nnx.Linear:
    init = nnx.initializers.truncated_normal(
        std * scale, lower=-2.0 / (std * scale), upper=2.0 / (std * scale)
    )
    return nnx.Linear(d_in, d_out, kernel_init=init, bias_init=nnx.initializers.zeros, rngs=rngs)


def _uniform(bound: float):
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)


def _attention(q: jax.Array, k: jax.Array, v: jax.Array, num_heads: int) -> jax.Array:
    """Multi-head scaled dot-product attention: [B, Nq, D], [B, N, D], [B, N, D] → [B, Nq, D]."""
    split = lambda x: x.reshape(*x.shape[:-1], num_heads, x.shape[-1] // num_heads)  # noqa: E731
    out = jax.nn.dot_product_attention(split(q), split(k), split(v))
    return out.reshape(*out.shape[:-2], -1)


class _Mlp(nnx.Module):
    def __init__(self, dim: int, hidden: int, std: float, layer: int, rngs: nnx.Rngs):
        self.fc1 = _linear(dim, hidden, std, rngs)
        self.fc2 = _linear(hidden, dim, std, rngs, scale=1 / math.sqrt(2.0 * layer))

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(jax.nn.gelu(self.fc1(x), approximate=False))


class _SelfBlock(nnx.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, c: HeadConfig, layer: int, rngs: nnx.Rngs):
        self.num_heads = c.num_heads
        self.norm1 = nnx.LayerNorm(c.dim, epsilon=1e-5, rngs=rngs)
        self.qkv = _linear(c.dim, 3 * c.dim, c.init_std, rngs)
        self.proj = _linear(c.dim, c.dim, c.init_std, rngs, scale=1 / math.sqrt(2.0 * layer))
        self.norm2 = nnx.LayerNorm(c.dim, epsilon=1e-5, rngs=rngs)
        self.mlp = _Mlp(c.dim, int(c.dim * c.mlp_ratio), c.init_std, layer, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        q, k, v = jnp.split(self.qkv(self.norm1(x)), 3, axis=-1)
        x = x + self.proj(_attention(q, k, v, self.num_heads))
        return x + self.mlp(self.norm2(x))


class _CrossBlock(nnx.Module):
    """V-JEPA's CrossAttentionBlock: q + xattn(q, norm1(x)), then q + mlp(norm2(q)); no norm on q and
    no projection after the attention."""

    def __init__(self, c: HeadConfig, layer: int, rngs: nnx.Rngs):
        self.num_heads = c.num_heads
        self.norm1 = nnx.LayerNorm(c.dim, epsilon=1e-5, rngs=rngs)
        self.q = _linear(c.dim, c.dim, c.init_std, rngs)
        self.kv = _linear(c.dim, 2 * c.dim, c.init_std, rngs)  # [k | v] along channels
        self.norm2 = nnx.LayerNorm(c.dim, epsilon=1e-5, rngs=rngs)
        self.mlp = _Mlp(c.dim, int(c.dim * c.mlp_ratio), c.init_std, layer, rngs)

    def __call__(self, q: jax.Array, x: jax.Array) -> jax.Array:
        k, v = jnp.split(self.kv(self.norm1(x)), 2, axis=-1)
        q = q + _attention(self.q(q), k, v, self.num_heads)
        return q + self.mlp(self.norm2(q))


class AttentiveProbe(nnx.Module):
    def __init__(self, c: HeadConfig, *, rngs: nnx.Rngs):
        init = nnx.initializers.truncated_normal(c.init_std, lower=-2.0 / c.init_std, upper=2.0 / c.init_std)
        self.query = nnx.Param(init(rngs.params(), (1, 1, c.dim)))
        # The reference rescales block i's projections by 1/√(2(i+1)), and the cross block's MLP by the
        # last self-attention block's factor (1/√2 without any).
        self.blocks = nnx.List([_SelfBlock(c, i + 1, rngs) for i in range(c.depth - 1)])
        self.cross = _CrossBlock(c, max(c.depth - 1, 1), rngs)
        bound = 1 / math.sqrt(c.dim)  # torch's nn.Linear default: kaiming_uniform(a=√5), bias alike
        uniform = _uniform(bound)
        self.linear = nnx.Linear(c.dim, c.num_classes, kernel_init=uniform, bias_init=uniform, rngs=rngs)

    def __call__(self, tokens: jax.Array, *, dropout_key: jax.Array | None = None) -> jax.Array:
        x = tokens
        for block in self.blocks:
            x = block(x)
        q = jnp.broadcast_to(self.query[...], (x.shape[0], 1, x.shape[-1]))
        return self.linear(self.cross(q, x)[:, 0])


class AttentivePooler(nnx.Module):
    def __init__(self, c: HeadConfig, *, rngs: nnx.Rngs):
        self.dropout = c.dropout
        self.num_heads = c.num_heads
        self.norm = nnx.LayerNorm(c.dim, epsilon=1e-6, rngs=rngs)
        self.query = nnx.Param(jnp.zeros((1, 1, c.dim)))  # vit.TokenLayer: zeros
        glorot = dict(kernel_init=nnx.initializers.glorot_uniform(), bias_init=nnx.initializers.zeros)
        # Keras's EinsumDense kernels [D, heads, head_dim] are Glorot over fan_in D, fan_out heads·head_dim:
        # the same bounds as one [D, D] matrix.
        self.q, self.k, self.v, self.out = (nnx.Linear(c.dim, c.dim, **glorot, rngs=rngs) for _ in range(4))
        uniform = _uniform(0.05)  # Keras RandomUniform(-0.05, 0.05), the model builder's initializer
        self.linear = nnx.Linear(c.dim, c.num_classes, kernel_init=uniform, bias_init=nnx.initializers.zeros,
                                 rngs=rngs)  # fmt: skip

    def __call__(self, tokens: jax.Array, *, dropout_key: jax.Array | None = None) -> jax.Array:
        x = self.norm(tokens)
        q = jnp.broadcast_to(self.query[...], (x.shape[0], 1, x.shape[-1]))
        pooled = self.out(_attention(self.q(q), self.k(x), self.v(x), self.num_heads))[:, 0]
        if dropout_key is not None and self.dropout > 0:
            keep = jax.random.bernoulli(dropout_key, 1.0 - self.dropout, pooled.shape)
            pooled = jnp.where(keep, pooled / (1.0 - self.dropout), 0.0)
        return self.linear(pooled)


def build(c: HeadConfig, key: jax.Array) -> nnx.Module:
    return (AttentiveProbe if c.kind == "attentive_probe" else AttentivePooler)(c, rngs=nnx.Rngs(params=key))
