"""V-JEPA 2 (transformers ``VJEPA2Model`` folders): what only this family has — tubelets at other frame
counts, the classifier layout, config.json options it lacks, RoPE and the registered sizes.

The fixture tests/fixtures/hf/vjepa2_dev (copied from the shared fixtures; its README.txt defines the
arrays) was made by transformers 5.24.0 on random weights: crop 32, patch 8, tubelet 2, D 64, depth 2,
4 heads (head_dim 16: RoPE rotates 4 channels per axis and leaves 4), 4 frames. Its safetensors file
holds the predictor too, which conversion drops by rule. The conformance kit (test_family_conformance.py,
case vjepa2_dev) converts it with the command and checks the tokens and feature, the recorded config,
--verify, frame counts and sizes (odd ones refused), bfloat16 and damaged keys.
"""

import json
import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest
from family_cases import loaded
from flax import nnx
from port_cases import ROOT, max_diff
from safetensors.numpy import load_file, save_file

from gesture_jax import models
from gesture_jax.models import registry, vjepa2
from gesture_jax.ports import convert

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "hf", "vjepa2_dev")


@pytest.fixture(scope="module")
def io():
    return np.load(os.path.join(FIXTURE, "io.npz"))


def test_more_tubelets_change_every_token_and_one_frame_fills_a_tubelet(io):
    @nnx.jit  # one compiled call: eager forwards cost seconds, op by op
    def run(six_frames, model, video):
        six = jnp.concatenate([video, video[:, :2]], axis=1)
        one = video[:, :1]
        two = six_frames.features(video[:, :2])
        return six_frames.tokens(six), two, model.features(one), model.features(one.repeat(2, axis=1))

    tokens, two, one, repeated = run(loaded("vjepa2_dev", num_frames=6), loaded("vjepa2_dev"), io["video"])
    assert tokens.shape == (2, 3 * 4 * 4, 64) and np.isfinite(np.asarray(tokens)).all()
    assert two.shape == (2, 64)  # fewer tubelets than the model was loaded for
    # Attention is global: the first 32 tokens are not the 4-frame ones.
    assert max_diff(tokens[:, :32], io["tokens"]) > 1e-3
    # One frame is repeated into a tubelet, as transformers does.
    np.testing.assert_array_equal(one, repeated)


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
