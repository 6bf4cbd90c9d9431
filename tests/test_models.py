"""Encoder registry and the VideoMAE-family ViT."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gesture_jax import config_lib, models
from gesture_jax.evaluation import run_context
from gesture_jax.models import layers, pos_embed


def test_toy_vit_shapes_and_determinism():
    model, spec = models.create("toy-vit", seed=0)
    video = np.random.default_rng(0).normal(size=(2, spec.num_frames, spec.crop_size, spec.crop_size, 3))
    feats = model.features(jnp.asarray(video, jnp.float32))
    assert feats.shape == (2, 64) and feats.dtype == jnp.float32
    with pytest.raises(ValueError, match="no classification head"):
        model(jnp.asarray(video, jnp.float32))  # toy-vit is features only; fine-tuning adds a head
    again, _ = models.create("toy-vit", seed=0)
    np.testing.assert_array_equal(again.features(jnp.asarray(video, jnp.float32)), feats)
    other, _ = models.create("toy-vit", seed=1)
    assert not np.allclose(other.features(jnp.asarray(video, jnp.float32)), feats)


@pytest.mark.slow
def test_bfloat16_compute_keeps_float32_params_and_is_close():
    video = jnp.asarray(np.random.default_rng(1).normal(size=(2, 8, 32, 32, 3)), jnp.float32)
    f32, _ = models.create("toy-vit", seed=0)
    bf16, _ = models.create("toy-vit", seed=0, dtype="bfloat16")
    params = jax.tree.leaves(nnx.state(bf16, nnx.Param))
    assert all(p.dtype == jnp.float32 for p in params)
    a, b = f32.features(video), bf16.features(video)
    assert b.dtype == jnp.float32
    assert float(jnp.abs(a - b).max()) < 0.1  # bf16 has ~3 significant digits; features are LayerNormed


def test_wrong_input_shape_is_a_clear_error():
    model, _ = models.create("toy-vit")
    with pytest.raises(ValueError, match="expected video"):
        model.features(jnp.zeros((1, 3, 32, 32, 3)))  # 3 frames: not a whole number of tubelets
    with pytest.raises(ValueError, match="expected video"):
        model.features(jnp.zeros((1, 8, 32, 28, 3)))


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown encoder 'nope'.*toy-vit"):
        models.create("nope")
    with pytest.raises(ValueError, match="compute dtype"):
        models.create("toy-vit", dtype="float64")
    with pytest.raises(ValueError, match="unknown ViT config"):
        models.create("toy-vit", model_overrides={"depht": 2})


def test_config_spec_overrides():
    cfg = config_lib.encoder("toy-vit")
    cfg.spec.num_frames = 16
    cfg.spec.crop = "three"
    _, spec = run_context.open_encoder(cfg)
    assert spec.num_frames == 16 and spec.crop == "three" and spec.num_views == 3
    assert spec.sampler == "tsn"  # untouched fields keep the registered protocol


def test_sinusoid_table_formula():
    table = pos_embed.sinusoid_table(10, 6)[0]
    p, j = 7, 3  # odd channel: cos(p / 10000^(2*1/6))
    assert table.shape == (10, 6) and table.dtype == np.float32
    np.testing.assert_allclose(table[p, j], np.cos(p / 10000 ** (2 / 6)), rtol=1e-6)
    np.testing.assert_allclose(table[p, 2], np.sin(p / 10000 ** (2 / 6)), rtol=1e-6)
    np.testing.assert_array_equal(pos_embed.sinusoid_table(4, 6)[0], table[:4])  # truncation rule


def test_attention_qv_bias_layout():
    """VideoMAE's qkv bias is (q_bias, 0, v_bias): a k bias would change nothing, but q and v do."""
    attn = layers.Attention(8, 2, qkv_bias="qv", rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(1, 5, 8)), jnp.float32)
    base = attn(x)
    attn.v_bias[...] = jnp.ones(8)
    assert not np.allclose(attn(x), base)
    with pytest.raises(ValueError, match="qkv_bias"):
        layers.Attention(8, 2, qkv_bias="kv", rngs=nnx.Rngs(0))


def test_switching_the_sampler_keeps_only_its_own_params():
    spec = models.get("videomae-b16").spec
    assert spec.sampler_kwargs(1) == dict(clip_len=16, frame_sample_rate=4, test_num_segment=5, clip=1)
    ssv2 = spec.replace(sampler="videomae_v1_ssv2_test", num_clips=2)
    assert ssv2.sampler_kwargs(0) == dict(num_segment=16, test_num_segment=2, clip=0)
