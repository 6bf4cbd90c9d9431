"""Softmax attention and the choice of kernel for it (``encoder.attention`` in a config).

Every encoder here calls `attention`; the implementation is picked per call site at trace time from the
backend, the compute dtype and the head size, so one config runs fast on CPU and GPU alike:

- ``"auto"`` (the default; also ``None``): on GPU in bfloat16/float16, cuDNN's fused flash attention
  through ``jax.nn.dot_product_attention`` when the head size fits it (a multiple of 8, at most 128),
  falling back to XLA's where it does not or where cuDNN refuses the call; on GPU in float32, XLA's
  (cuDNN's kernel takes no float32); on CPU, ``"einsum"``; elsewhere XLA's.
- ``"einsum"``: q scaled before q·kᵀ as the PyTorch references do, softmax in float32. On CPU XLA fuses
  the two products and the softmax into one kernel without materialising the scores (bench: ~2.4× faster
  than ``"xla"`` at 1568 tokens; computing it in query chunks or normalising after the value product was
  measured slower there).
- ``"xla"`` / ``"cudnn"``: ``jax.nn.dot_product_attention``'s implementations, forced.

Each distinct choice is logged once (level INFO) with its reason.
"""

from __future__ import annotations

import logging

import jax
import jax.numpy as jnp

IMPLS = ("auto", "einsum", "xla", "cudnn")
ATTENTION_IMPLS = (None, *IMPLS)  # None means "auto"
HALF = (jnp.bfloat16, jnp.float16)
CUDNN_MAX_HEAD_DIM = 128  # cuDNN flash attention's limit for head sizes (and a multiple of 8)

_logged: set[tuple[str, str]] = set()


def check_impl(impl: str | None) -> str:
    """`impl` as a name of IMPLS ("auto" for None), or a ValueError naming the choices."""
    if impl not in ATTENTION_IMPLS:
        raise ValueError(f"unknown attention implementation {impl!r}; expected one of {IMPLS}")
    return impl or "auto"


def choose(requested: str | None, *, backend: str, dtype, head_dim: int) -> tuple[str, str]:
    """(implementation, why) for a request on `backend` ("cpu", "gpu", "cuda", "rocm", "tpu")."""
    requested = check_impl(requested)
    if requested != "auto":
        return requested, "set by encoder.attention"
    dtype = jnp.dtype(dtype)
    if backend == "cpu":
        return "einsum", "CPU: XLA fuses the einsum form into one kernel"
    if backend in ("gpu", "cuda"):
        if dtype not in [jnp.dtype(d) for d in HALF]:
            return "xla", f"GPU in {dtype.name}: cuDNN flash attention needs bfloat16 or float16"
        if head_dim % 8 or head_dim > CUDNN_MAX_HEAD_DIM:
            return "xla", (
                f"GPU, head size {head_dim}: cuDNN flash attention needs a multiple of 8 up to "
                f"{CUDNN_MAX_HEAD_DIM}"
            )
        return "cudnn", f"GPU in {dtype.name}, head size {head_dim}: cuDNN flash attention"
    return "xla", f"{backend}: jax.nn.dot_product_attention's XLA implementation"


def attention(
    q: jax.Array, k: jax.Array, v: jax.Array, *, is_causal: bool = False, impl: str | None = None
) -> jax.Array:
    """Softmax attention over [B, N, heads, head_dim] (scale head_dim^-0.5; softmax in float32)."""
    chosen, why = choose(impl, backend=jax.default_backend(), dtype=q.dtype, head_dim=q.shape[-1])
    if chosen == "cudnn" and check_impl(impl) == "auto":
        try:
            out = jax.nn.dot_product_attention(q, k, v, is_causal=is_causal, implementation="cudnn")
        except (NotImplementedError, ValueError, RuntimeError) as error:  # cuDNN refused this call
            chosen, why = "xla", f"cuDNN refused {tuple(q.shape)} {q.dtype}: {str(error)[:200]}"
        else:
            _log(chosen, why)
            return out
    _log(chosen, why)
    if chosen == "einsum":
        return _einsum(q, k, v, is_causal)
    return jax.nn.dot_product_attention(q, k, v, is_causal=is_causal, implementation=chosen)


def _einsum(q, k, v, is_causal: bool):
    logits_dtype = jnp.promote_types(q.dtype, jnp.float32)
    scale = jnp.asarray(q.shape[-1] ** -0.5, q.dtype)
    logits = jnp.einsum("bqhd,bkhd->bhqk", q * scale, k, preferred_element_type=logits_dtype)
    if is_causal:
        n = logits.shape[-1]
        logits = jnp.where(jnp.tril(jnp.ones((n, n), bool)), logits, jnp.finfo(logits.dtype).min)
    probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(v.dtype)
    return jnp.einsum("bhqk,bkhd->bqhd", probs, v)


def _log(chosen: str, why: str) -> None:
    if (chosen, why) not in _logged:
        _logged.add((chosen, why))
        logging.info("attention: %s (%s)", chosen, why)
