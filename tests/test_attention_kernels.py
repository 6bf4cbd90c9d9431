"""The attention kernel choice (encoder.attention): the selection rules, the cuDNN fallback, the wiring.

The GPU branches run on CPU by naming the backend; the fallback by making cuDNN refuse the call."""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gesture_jax import config_lib
from gesture_jax.evaluation import run_context
from gesture_jax.models import attention_kernels as ak


@pytest.mark.parametrize(
    "backend, dtype, head_dim, expected",
    [
        ("gpu", jnp.bfloat16, 64, "cudnn"),
        ("cuda", jnp.float16, 128, "cudnn"),
        ("gpu", jnp.bfloat16, 72, "cudnn"),
        ("gpu", jnp.float32, 64, "xla"),  # cuDNN flash attention has no float32 kernel
        ("gpu", jnp.bfloat16, 100, "xla"),  # not a multiple of 8
        ("gpu", jnp.bfloat16, 256, "xla"),  # over the head-size limit
        ("cpu", jnp.float32, 64, "einsum"),
        ("cpu", jnp.bfloat16, 64, "einsum"),
        ("tpu", jnp.bfloat16, 64, "xla"),
    ],
)
def test_auto_picks_by_backend_dtype_and_head_size(backend, dtype, head_dim, expected):
    for requested in ("auto", None):
        chosen, why = ak.choose(requested, backend=backend, dtype=dtype, head_dim=head_dim)
        assert chosen == expected and why


def test_an_explicit_choice_is_kept_and_a_bad_one_names_the_choices():
    assert ak.choose("xla", backend="gpu", dtype=jnp.bfloat16, head_dim=64)[0] == "xla"
    assert ak.choose("cudnn", backend="gpu", dtype=jnp.float32, head_dim=64)[0] == "cudnn"
    with pytest.raises(ValueError, match="'flash'.*auto"):
        ak.choose("flash", backend="cpu", dtype=jnp.float32, head_dim=64)


def _qkv(dtype=jnp.float32):
    keys = jax.random.split(jax.random.key(0), 3)
    return [jax.random.normal(k, (2, 33, 3, 16), dtype) for k in keys]


def test_auto_on_cpu_is_the_einsum_and_matches_xla(caplog):
    q, k, v = _qkv()
    ak._logged.clear()
    with caplog.at_level(logging.INFO):
        out = ak.attention(q, k, v)
    assert "attention: einsum (CPU" in caplog.text
    np.testing.assert_array_equal(out, ak.attention(q, k, v, impl="einsum"))
    reference = jax.nn.dot_product_attention(q, k, v, implementation="xla")
    np.testing.assert_allclose(out, reference, atol=1e-6)
    causal = ak.attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(
        causal, jax.nn.dot_product_attention(q, k, v, is_causal=True, implementation="xla"), atol=1e-6
    )


def test_auto_falls_back_to_xla_when_cudnn_refuses(monkeypatch, caplog):
    """On a GPU whose cuDNN refuses the call, auto runs XLA's kernel and says why; a forced "cudnn" is
    not second-guessed (its error reaches the user)."""
    q, k, v = (x.astype(jnp.bfloat16) for x in _qkv())
    real = jax.nn.dot_product_attention
    calls = []

    def fake(q, k, v, *, is_causal=False, implementation=None):
        calls.append(implementation)
        if implementation == "cudnn":
            raise NotImplementedError("cuDNN 9.1 or newer is required")
        return real(q, k, v, is_causal=is_causal, implementation=implementation)

    monkeypatch.setattr(ak.jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(ak.jax.nn, "dot_product_attention", fake)
    ak._logged.clear()
    with caplog.at_level(logging.INFO):
        out = ak.attention(q, k, v)
    assert calls == ["cudnn", "xla"]
    assert "attention: xla (cuDNN refused (2, 33, 3, 16) bfloat16: cuDNN 9.1 or newer" in caplog.text
    np.testing.assert_array_equal(out, real(q, k, v, implementation="xla"))
    with pytest.raises(NotImplementedError, match="cuDNN 9.1"):
        ak.attention(q, k, v, impl="cudnn")


@pytest.mark.slow
def test_the_config_field_reaches_every_attention_layer():
    block = config_lib.encoder("toy-vit")
    assert block.attention == "auto"
    block.attention = "xla"
    model, _ = run_context.open_encoder(block)
    assert {b.attn.attention_impl for b in model.blocks} == {"xla"}
    block.attention = "flash"
    with pytest.raises(ValueError, match="unknown attention implementation 'flash'"):
        run_context.open_encoder(block)
