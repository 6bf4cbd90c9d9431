"""What every video ViT here shares: tubelet embedding, attention, MLP, pre-norm block, position tables.

Written once for UMT, VideoMAE v1/V2, ViCLIP and the toy encoder; families differ only in the options
they pass (activation, LayerNorm eps, qkv bias layout, token order, pooling).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gesture_jax.models.attention_kernels import ATTENTION_IMPLS, attention  # noqa: F401 (the layers' API)


class Buffer(nnx.Variable):
    """A fixed array that belongs to the model (e.g. a sinusoid table) but is never trained."""


def _gelu_exact(x):
    # torch nn.GELU(); jax's default is the tanh approximation. PyTorch's erf form, 0.5·x·(1 + erf(x/√2)),
    # runs a little faster on CPU (25–28 against 31–35 ms over 77 MB) but rounds differently, and would
    # change the bits of the shipped toy encoder; at ~1% of a ViT-B/16 forward it is not worth that.
    return jax.nn.gelu(x, approximate=False)


def _quick_gelu(x):
    return x * jax.nn.sigmoid(1.702 * x)  # CLIP / ViCLIP


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "gelu": _gelu_exact,
    "quick_gelu": _quick_gelu,
}


class TubeletEmbed(nnx.Module):
    """Non-overlapping (t, p, p) tubelets → D, tokens in (t, h, w) row-major order. [B,T,H,W,C] → [B,N,D]."""

    def __init__(
        self,
        in_channels: int,
        dim: int,
        patch: int,
        tubelet: int,
        *,
        use_bias: bool = True,
        dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.proj = nnx.Conv(
            in_channels,
            dim,
            kernel_size=(tubelet, patch, patch),
            strides=(tubelet, patch, patch),
            padding="VALID",
            use_bias=use_bias,
            dtype=dtype,
            rngs=rngs,
        )

    def __call__(self, video: jax.Array) -> jax.Array:
        x = self.proj(video)  # [B, T', Hp, Wp, D]
        return x.reshape(x.shape[0], -1, x.shape[-1])


class Attention(nnx.Module):
    """Multi-head self-attention with one fused qkv projection.

    `qkv_bias`: "qv" is VideoMAE's layout (learned q and v biases, zero k bias), "full" is CLIP's, "none" has
    no bias. Heads are contiguous head_dim chunks of q, k and v, as in both references.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        qkv_bias: str = "qv",
        dtype=jnp.float32,
        attention_impl: str | None = None,
        rngs: nnx.Rngs,
    ):
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        if qkv_bias not in ("qv", "full", "none"):
            raise ValueError(f"qkv_bias must be 'qv', 'full' or 'none', got {qkv_bias!r}")
        self.num_heads = num_heads
        self.qkv_bias = qkv_bias
        self.attention_impl = attention_impl
        self.dtype = dtype
        self.qkv = nnx.Linear(dim, 3 * dim, use_bias=qkv_bias == "full", dtype=dtype, rngs=rngs)
        if qkv_bias == "qv":
            self.q_bias = nnx.Param(jnp.zeros((dim,), jnp.float32))
            self.v_bias = nnx.Param(jnp.zeros((dim,), jnp.float32))
        self.proj = nnx.Linear(dim, dim, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array, *, is_causal: bool = False) -> jax.Array:
        return self.proj(self.mix(token_map(self.project, x), is_causal=is_causal))

    def project(self, x: jax.Array) -> jax.Array:
        """[..., D] → [..., 3D]: q | k | v with their biases (token-wise)."""
        qkv = self.qkv(x)
        if self.qkv_bias == "qv":
            zeros = jnp.zeros_like(self.q_bias[...])
            qkv = qkv + jnp.concatenate([self.q_bias[...], zeros, self.v_bias[...]]).astype(qkv.dtype)
        return qkv

    def mix(self, qkv: jax.Array, *, is_causal: bool = False) -> jax.Array:
        """[B, N, 3D] projections → [B, N, D] attention outputs, before the output projection."""
        b, n, d3 = qkv.shape
        q, k, v = jnp.split(qkv.reshape(b, n, 3, self.num_heads, d3 // (3 * self.num_heads)), 3, axis=2)
        out = attention(q[:, :, 0], k[:, :, 0], v[:, :, 0], is_causal=is_causal, impl=self.attention_impl)
        return out.reshape(b, n, d3 // 3)


# Token-wise steps on CPU run over chunks of this many tokens of every example (batch rows stay whole), so
# the MLP's 4×-wide hidden activations stay in cache between fc1, GELU and fc2 instead of a pass through
# memory each (bench/extract_vs_torch.py: at batch 4, 1568 rows a chunk). Chunking the token axis, not
# the batch, keeps a batch sharded over devices chunked alike on each: the same bits on 1 or 8 devices.
# 0 turns it off; other backends never chunk.
CPU_TOKEN_CHUNK = 392


def token_map(fn: Callable[..., jax.Array], *xs: jax.Array) -> jax.Array:
    """`fn` applied to arrays [..., N, D_i] (same leading shape) that it treats token by token: on CPU
    over chunks of about `CPU_TOKEN_CHUNK` of the N tokens (zero-padded to equal chunks), elsewhere at
    once."""
    n = xs[0].shape[-2]
    if not CPU_TOKEN_CHUNK or n < 2 * CPU_TOKEN_CHUNK or jax.default_backend() != "cpu":
        return fn(*xs)
    count = -(-n // CPU_TOKEN_CHUNK)
    chunk = -(-n // count)
    if count * chunk != n:
        xs = [jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, count * chunk - n), (0, 0)]) for x in xs]
    part = jax.eval_shape(fn, *(jax.lax.slice_in_dim(x, 0, chunk, axis=-2) for x in xs))

    def step(i, out):
        parts = [jax.lax.dynamic_slice_in_dim(x, i * chunk, chunk, axis=-2) for x in xs]
        return jax.lax.dynamic_update_slice_in_dim(out, fn(*parts), i * chunk, axis=-2)

    shape = (*part.shape[:-2], count * chunk, part.shape[-1])
    out = jax.lax.fori_loop(0, count, step, jnp.zeros(shape, part.dtype))
    return out[..., :n, :]


class Mlp(nnx.Module):
    def __init__(self, dim: int, hidden: int, *, activation: str = "gelu", dtype=jnp.float32, rngs: nnx.Rngs):
        self.fc1 = nnx.Linear(dim, hidden, dtype=dtype, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, dim, dtype=dtype, rngs=rngs)
        self.activation = ACTIVATIONS[activation]

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(self.activation(self.fc1(x)))


def layer_norm(dim: int, eps: float, dtype, rngs: nnx.Rngs) -> nnx.LayerNorm:
    # Two-pass variance matches torch's LayerNorm more closely than Flax's default fast variance.
    return nnx.LayerNorm(dim, epsilon=eps, use_fast_variance=False, dtype=dtype, rngs=rngs)


class Block(nnx.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_hidden: int,
        *,
        eps: float,
        activation: str,
        qkv_bias: str,
        layer_scale: bool = False,
        dtype=jnp.float32,
        attention_impl: str | None = None,
        rngs: nnx.Rngs,
    ):
        self.norm1 = layer_norm(dim, eps, dtype, rngs)
        self.attn = Attention(
            dim, num_heads, qkv_bias=qkv_bias, dtype=dtype, attention_impl=attention_impl, rngs=rngs
        )
        self.norm2 = layer_norm(dim, eps, dtype, rngs)
        self.mlp = Mlp(dim, mlp_hidden, activation=activation, dtype=dtype, rngs=rngs)
        if layer_scale:  # VideoMAE's gamma_1/gamma_2 (init_values > 0); the released models have none
            self.gamma_1 = nnx.Param(jnp.ones((dim,), jnp.float32))
            self.gamma_2 = nnx.Param(jnp.ones((dim,), jnp.float32))
        self.layer_scale = layer_scale

    def __call__(
        self, x: jax.Array, *, is_causal: bool = False, drop_rate: float = 0.0, key: jax.Array | None = None
    ) -> jax.Array:
        """`key` turns on drop path (training): each residual branch is dropped per example with
        probability `drop_rate` and the kept ones rescaled, as timm's DropPath."""
        keys = jax.random.split(key) if key is not None and drop_rate > 0 else (None, None)
        if keys[0] is None:  # no drop path: the token-wise steps in two passes over cache-sized token chunks
            qkv = token_map(lambda tokens: self.attn.project(self.norm1(tokens)), x)
            return token_map(self._after_attention, self.attn.mix(qkv, is_causal=is_causal), x)
        x = x + _drop_path(self._scaled(self.attn(self.norm1(x), is_causal=is_causal), 1), drop_rate, keys[0])
        return x + _drop_path(self._scaled(self.mlp(self.norm2(x)), 2), drop_rate, keys[1])

    def _after_attention(self, out: jax.Array, x: jax.Array) -> jax.Array:
        """The rest of the block, token by token, from the attention output and the block's input."""
        x = x + self._scaled(self.attn.proj(out), 1)
        return x + self._scaled(self.mlp(self.norm2(x)), 2)

    def _scaled(self, h: jax.Array, branch: int) -> jax.Array:
        """Residual branch 1 (attention) or 2 (MLP), times its layer scale where the block has one."""
        return h * getattr(self, f"gamma_{branch}")[...].astype(h.dtype) if self.layer_scale else h


def _drop_path(h: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    if key is None or rate == 0.0:
        return h
    keep = jax.random.bernoulli(key, 1.0 - rate, (h.shape[0],) + (1,) * (h.ndim - 1))
    return jnp.where(keep, h / (1.0 - rate), 0).astype(h.dtype)


def run_blocks(
    blocks,
    x: jax.Array,
    *,
    drop_path_rate: float = 0.0,
    key: jax.Array | None = None,
    is_causal: bool = False,
    keep: Sequence[int] = (),
) -> jax.Array:
    """The blocks in order; drop-path rates rise linearly from 0 to `drop_path_rate` with depth. With
    `keep` (block indices, as `block_indices` checks them), the outputs of those blocks stacked
    [len(keep), B, N, D] instead of the last block's."""
    rates = np.linspace(0.0, drop_path_rate, len(blocks)) if len(blocks) else []
    kept = {}
    for i, (block, rate) in enumerate(zip(blocks, rates)):
        block_key = jax.random.fold_in(key, i) if key is not None else None
        x = block(x, is_causal=is_causal, drop_rate=float(rate), key=block_key)
        if i in keep:
            kept[i] = x
        if keep and len(kept) == len(set(keep)):
            break  # the later blocks change nothing that was asked for
    return jnp.stack([kept[i] for i in keep]) if keep else x


def block_indices(layers: Sequence[int], depth: int) -> tuple[int, ...]:
    """Block indices of a `tokens(video, layers)` request: 0 … depth − 1, or negative from the end
    (−1 the last block); anything else is an error naming the depth."""
    out = []
    for i in layers:
        if not isinstance(i, (int, np.integer)) or not -depth <= i < depth:
            raise ValueError(
                f"block index {i!r} is not in [-{depth}, {depth}) for this {depth}-block encoder"
            )
        out.append(int(i) % depth)
    if not out:
        raise ValueError("layers names no block; give None for the final tokens")
    return tuple(out)
