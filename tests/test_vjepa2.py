"""V-JEPA 2 (transformers ``VJEPA2Model`` folders): convert → load → the reference's tokens and feature.

The fixture tests/fixtures/hf/vjepa2_dev (copied from the shared fixtures; its README.txt defines the
arrays) was made by transformers 5.24.0 on random weights: crop 32, patch 8, tubelet 2, D 64, depth 2,
4 heads (head_dim 16: RoPE rotates 4 channels per axis and leaves 4), 4 frames. Its safetensors file
holds the predictor too, which conversion drops by rule.
"""

import json
import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest
from port_cases import ROOT, cli, cli_in_process, max_diff
from safetensors.numpy import load_file, save_file

from gesture_jax import models
from gesture_jax.models import registry, vjepa2
from gesture_jax.ports import convert

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "hf", "vjepa2_dev")


@pytest.fixture(scope="module")
def io():
    return np.load(os.path.join(FIXTURE, "io.npz"))


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The fixture folder converted once, by the command a user runs."""
    dst = str(tmp_path_factory.mktemp("vjepa2") / "out")
    result = cli("--family", "vjepa2", "--src", FIXTURE, "--dst", dst)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "vjepa2" in result.stdout and "23 keys dropped by rule" in result.stdout
    return dst


def test_tokens_and_features_match_transformers(converted, io):
    model, spec = models.load(converted)
    video = jnp.asarray(io["video"])
    assert max_diff(model.tokens(video), io["tokens"]) <= 1e-5
    assert max_diff(model.features(video), io["features"]) <= 1e-5
    assert model.features(video).dtype == jnp.float32
    # The geometry comes from config.json; the input protocol is the family's at that geometry.
    meta = json.load(open(os.path.join(converted, "model.json")))
    assert meta["model_config"] == dict(
        patch_size=8,
        tubelet_size=2,
        num_frames=16,
        img_size=32,
        embed_dim=64,
        depth=2,
        num_heads=4,
        mlp_ratio=4.0,
        qkv_bias=True,
        layer_norm_eps=1e-6,
    )
    # frames_per_clip (4 here) is the pre-training clip: the spec keeps the protocol's 16 frames.
    assert (spec.num_frames, spec.crop_size, spec.crop, spec.mean) == (16, 32, "three", (0.485, 0.456, 0.406))
    assert all(key.startswith("predictor.") for key in meta["source"]["dropped_keys"])


def test_verify_says_ok(converted):
    status, out = cli_in_process("--verify", f"--src={FIXTURE}", f"--dst={converted}")
    assert status == 0 and out.startswith("OK: 36 tensors"), out


def test_other_frame_counts_run_and_odd_ones_are_refused(converted, io):
    video = jnp.asarray(io["video"])
    model, spec = models.load(converted, num_frames=6)
    assert spec.num_frames == 6
    six = jnp.concatenate([video, video[:, :2]], axis=1)
    tokens = model.tokens(six)
    assert tokens.shape == (2, 3 * 4 * 4, 64) and np.isfinite(np.asarray(tokens)).all()
    # More tubelets change every token (attention is global), and the first 32 are not the 4-frame ones.
    assert max_diff(tokens[:, :32], io["tokens"]) > 1e-3
    two = model.features(video[:, :2])
    assert two.shape == (2, 64)
    # One frame is repeated into a tubelet, as transformers does.
    np.testing.assert_array_equal(
        model.features(video[:, :1]), model.features(video[:, :1].repeat(2, axis=1))
    )
    with pytest.raises(ValueError, match="multiple of the tubelet size 2"):
        model.features(video[:, :3])
    with pytest.raises(ValueError, match=r"expected video \[B, T, 32, 32, 3\]"):
        model.features(jnp.zeros((1, 4, 48, 48, 3)))
    with pytest.raises(ValueError, match="multiples of its tubelet size 2"):
        models.load(converted, num_frames=5)


def test_bfloat16_compute_within_stated_tolerance(converted, io):
    model, _ = models.load(converted, dtype="bfloat16")
    assert max_diff(model.features(jnp.asarray(io["video"])), io["features"]) <= 5e-2


def _edited(tmp_path, edit):
    """A copy of the fixture folder with its tensors edited by `edit(tensors)`."""
    folder = tmp_path / "edited"
    shutil.copytree(FIXTURE, folder)
    os.chmod(folder, 0o755)
    weights = folder / "model.safetensors"
    tensors = load_file(str(weights))
    edit(tensors)
    os.chmod(weights, 0o644)
    save_file(tensors, str(weights))
    return str(folder)


def test_damaged_checkpoints_are_refused_naming_the_key(tmp_path):
    def drop(t):
        del t["encoder.layer.1.attention.key.weight"]

    def reshape(t):
        t["encoder.layer.0.mlp.fc1.bias"] = np.zeros(255, np.float32)

    def extra(t):
        t["encoder.layer.0.attention.rope_scale"] = np.ones(4, np.float32)

    cases = [
        (drop, r"missing keys: \['encoder\.layer\.1\.attention\.key\.weight'\]"),
        (reshape, r"wrong shapes: encoder\.layer\.0\.mlp\.fc1\.bias: \[255\] in the checkpoint, .* \[256\]"),
        (extra, r"unexpected keys: \['encoder\.layer\.0\.attention\.rope_scale'\]"),
    ]
    for i, (edit, message) in enumerate(cases):
        src = _edited(tmp_path / str(i), edit)
        with pytest.raises(convert.PortError, match=message):
            convert.convert("vjepa2", src, str(tmp_path / f"out{i}"), model_config=None)


def test_a_classifier_repo_converts_its_encoder(tmp_path, io):
    """VJEPA2ForVideoClassification files: the encoder under ``vjepa2.``, the attentive probe and the
    classifier beside it, dropped by rule (the feature is the encoder's)."""

    def as_classifier(t):
        for key in list(t):
            value = t.pop(key)
            if key.startswith("encoder."):
                t[f"vjepa2.{key}"] = value
        t["pooler.query_tokens"] = np.ones((1, 1, 64), np.float32)
        t["classifier.weight"] = np.ones((5, 64), np.float32)

    src = _edited(tmp_path, as_classifier)
    meta = convert.convert("vjepa2", src, str(tmp_path / "out"), model_config=None)
    assert meta["source"]["dropped_keys"] == ["classifier.weight", "pooler.query_tokens"]
    model, _ = models.load(str(tmp_path / "out"))
    assert max_diff(model.features(jnp.asarray(io["video"])), io["features"]) <= 1e-5


def test_config_json_options_the_port_lacks_are_named():
    with open(os.path.join(FIXTURE, "config.json")) as f:
        config = json.load(f)
    assert vjepa2.config_from_source(config)["img_size"] == 32
    with pytest.raises(ValueError, match="hidden_act='gelu_new'.*implements hidden_act='gelu'"):
        vjepa2.config_from_source({**config, "hidden_act": "gelu_new"})


def test_rope_layout():
    """Head_dim 64 rotates 20 channels per axis (80: 26); positions are (tubelet, row, column)."""
    assert vjepa2.VJEPA2Config(embed_dim=1024, num_heads=16).rope_dim == 20
    assert vjepa2.VJEPA2Config(embed_dim=1280, num_heads=16).rope_dim == 26
    cos, sin = vjepa2.rope_tables(2 * 3 * 3, grid=3, dim=4)
    # token 13 = tubelet 1, row 1, column 1; token 5 = tubelet 0, row 1, column 2
    omega = np.array([1.0, 0.01], np.float32)
    np.testing.assert_allclose(sin[13], np.sin(np.concatenate([omega, omega] * 3)), rtol=1e-6)
    np.testing.assert_allclose(cos[5, :4], np.ones(4))
    np.testing.assert_allclose(sin[5, 8:], np.sin(np.concatenate([2 * omega, 2 * omega])), rtol=1e-6)


def test_registered_sizes_match_the_public_checkpoints():
    shapes = {
        "vjepa2-vitl": (1024, 24, 16, 4096, 256),
        "vjepa2-vith": (1280, 32, 16, 5120, 256),
        "vjepa2-vitg": (1408, 40, 22, 6144, 256),
        "vjepa2-vitg-384": (1408, 40, 22, 6144, 384),
    }
    for name, (dim, depth, heads, mlp, size) in shapes.items():
        info = registry.get(name)
        config = vjepa2.VJEPA2Config(**info.model_config)
        sizes = (config.embed_dim, config.depth, config.num_heads, config.mlp_hidden)
        assert sizes == (dim, depth, heads, mlp)
        assert config.img_size == info.spec.crop_size == info.spec.resize_size == size
        assert (info.spec.num_frames, info.spec.num_clips, info.spec.num_crops) == (16, 8, 3)
        assert info.spec.sampler_params == (("frame_sample_rate", 4),)
