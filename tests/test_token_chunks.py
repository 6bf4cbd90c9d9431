"""Token-wise steps over token chunks on CPU (`layers.token_map`): the same numbers as in one pass."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gesture_jax import models
from gesture_jax.models import layers


def test_token_map_equals_one_pass_with_padding_and_several_inputs(monkeypatch):
    monkeypatch.setattr(layers, "CPU_TOKEN_CHUNK", 8)
    x, y = (jax.random.normal(jax.random.key(i), (3, 50, 6)) for i in (0, 1))  # 7 chunks of 8 → pad 6
    w = jax.random.normal(jax.random.key(2), (12, 5))

    def fn(a, b):
        return jnp.concatenate([a, b], -1) @ w

    out = jax.jit(lambda a, b: layers.token_map(fn, a, b))(x, y)
    assert out.shape == (3, 50, 5)
    np.testing.assert_allclose(out, fn(x, y), rtol=1e-6, atol=1e-6)


VICLIP_TINY = dict(
    width=32,
    layers=2,
    heads=2,
    text_width=16,
    text_layers=1,
    text_heads=2,
    output_dim=8,
    num_frames=2,
    img_size=32,
    patch_size=8,
    vocab_size=100,
)


@pytest.mark.slow_variants
@pytest.mark.parametrize("encoder, overrides", [("toy-vit", None), ("viclip-b16", VICLIP_TINY)])
def test_chunked_blocks_give_the_unchunked_outputs(monkeypatch, encoder, overrides):
    """The fused inference path of `layers.Block` (norm1 + qkv; proj + residual + norm2 + MLP + residual,
    each over token chunks) against the unchunked model: a video ViT, and ViCLIP (CLS token; causal
    text tower); tiny sizes, 3 tokens a chunk."""
    model, spec = models.create(encoder, model_overrides=overrides)
    c = model.config
    frames, size = (c.num_frames, c.img_size)
    video = jax.random.normal(jax.random.key(0), (2, frames, size, size, 3))

    def outputs():
        out = [nnx.jit(lambda m, v: m.features(v))(model, video)]
        if hasattr(model, "encode_text"):
            ids = jax.random.randint(jax.random.key(1), (2, c.context_length), 1, c.vocab_size)
            out.append(nnx.jit(lambda m, t: m.encode_text(t))(model, ids))
        return [np.asarray(o) for o in out]

    monkeypatch.setattr(layers, "CPU_TOKEN_CHUNK", 0)
    whole = outputs()
    monkeypatch.setattr(layers, "CPU_TOKEN_CHUNK", 3)
    for chunked, one_pass in zip(outputs(), whole, strict=True):
        np.testing.assert_allclose(chunked, one_pass, atol=1e-5)
