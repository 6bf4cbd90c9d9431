"""VideoMAE in transformers' format (MCG-NJU/videomae-*) → the official-format VideoMAE model: what only
this family has — fc_norm's own epsilon, the same network as the official-format port, the pre-training
and bare-model layouts, the configs it refuses, its sinusoid at other frame counts and its head.

The fixture (tests/fixtures/hf/videomae_hf_dev, copied from the shared fixtures, README.txt beside it) is
transformers 5.24.0's VideoMAEForVideoClassification on random weights (q_bias and v_bias included):
`tokens` (last_hidden_state), `features` = fc_norm(tokens.mean(1)) and `logits`. The conformance kit
(test_family_conformance.py, case videomae_hf_dev) converts it with the command and matches those at 1e-5,
with the recorded config, --verify, frame counts, bfloat16 and damaged keys. Tolerance 1e-5.
"""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest
from family_cases import converted, loaded
from flax import nnx
from port_cases import HFCase, cli_in_process, max_diff
from safetensors.numpy import save_file

from gesture_jax import models
from gesture_jax.models import registry, videomae_hf
from gesture_jax.ports import convert

HF = HFCase("videomae_hf_dev")
CASE = HF.path
_io, _tensors, _config_json, _folder = HF.io, HF.tensors, HF.config_json, HF.folder


def _convert(tmp_path, tensors, config=None, name="edited"):
    src = _folder(tmp_path / name, tensors, config)
    return convert.convert("videomae_hf", src, str(tmp_path / f"{name}_out"), model_config=None)


def test_fc_norm_has_its_own_epsilon():
    """fc_norm is nn.LayerNorm(D) (eps 1e-5) whatever config.json says; the blocks' eps would miss."""
    z = _io()
    model, _ = models.load(converted("videomae_hf_dev").dst, model_overrides={"fc_norm_eps": 1e-6})
    assert max_diff(model.features(jnp.asarray(z["video"])), z["features"]) > 1e-5


def test_same_network_as_the_official_format_port(tmp_path):
    """The same weights under the official modeling_finetune names, converted as videomae_v1, give the
    same tokens; registered sizes have the official family's parameter shapes."""
    renames = {
        "embeddings.patch_embeddings.projection": "patch_embed.proj",
        "attention.attention.": "attn.",
        "attention.output.dense": "attn.proj",
        "layernorm_before": "norm1",
        "layernorm_after": "norm2",
        "intermediate.dense": "mlp.fc1",
        "output.dense": "mlp.fc2",
        "encoder.layer.": "blocks.",
        "classifier.": "head.",
    }
    official = {}
    for key, value in videomae_hf.prepare_checkpoint(_tensors()).items():
        key = key.removeprefix("videomae.")
        for old, new in renames.items():
            key = key.replace(old, new)
        official[key] = value
    save_file(
        {k: np.ascontiguousarray(v) for k, v in official.items()}, str(tmp_path / "official.safetensors")
    )
    config = {k: v for k, v in videomae_hf.config_from_source(_config_json()).items() if k != "fc_norm_eps"}
    convert.convert(
        "videomae_v1", str(tmp_path / "official.safetensors"), str(tmp_path / "v1"), model_config=config
    )
    tokens = nnx.jit(lambda a, b, video: (a.tokens(video), b.tokens(video)))  # eager costs seconds
    ours, theirs = tokens(loaded("videomae_hf_dev"), models.load(str(tmp_path / "v1"))[0], _io()["video"])
    assert max_diff(ours, theirs) == 0.0
    for size in ("b16", "l16"):
        hf, official = registry.get(f"videomae-hf-{size}"), registry.get(f"videomae-{size}")
        shapes = models.param_shapes("videomae_hf", hf.model_config)
        assert shapes == models.param_shapes("videomae_v1", official.model_config)
        assert hf.spec == official.spec


def test_pretraining_layout_drops_the_decoder_and_uses_the_final_layernorm(tmp_path):
    """VideoMAEForPreTraining: encoder under videomae. with its final layernorm (use_mean_pooling false),
    decoder, encoder_to_decoder and mask_token dropped by rule; feature layernorm(token 0)."""
    rng = np.random.default_rng(0)
    tensors = {k: v for k, v in _tensors().items() if not k.startswith(("fc_norm.", "classifier."))}
    weight, bias = rng.normal(1, 0.1, 64).astype(np.float32), rng.normal(0, 0.1, 64).astype(np.float32)
    tensors.update({"videomae.layernorm.weight": weight, "videomae.layernorm.bias": bias})
    tensors["decoder.decoder_layers.0.mlp.fc1.weight"] = np.ones((8, 4), np.float32)
    tensors["decoder.head.weight"] = np.ones((4, 8), np.float32)
    tensors["encoder_to_decoder.weight"] = np.ones((8, 64), np.float32)
    tensors["mask_token"] = np.ones((1, 1, 8), np.float32)
    config = {**_config_json(), "use_mean_pooling": False, "architectures": ["VideoMAEForPreTraining"]}
    meta = _convert(tmp_path, tensors, config)
    assert meta["source"]["dropped_keys"] == [
        "decoder.decoder_layers.0.mlp.fc1.weight",
        "decoder.head.weight",
        "encoder_to_decoder.weight",
        "mask_token",
    ]
    assert (meta["model_config"]["use_mean_pooling"], meta["model_config"]["num_classes"]) == (False, 0)
    model, _ = models.load(str(tmp_path / "edited_out"))
    z = _io()
    first = z["tokens"][:, 0].astype(np.float64)
    mu, var = first.mean(-1, keepdims=True), first.var(-1, keepdims=True)
    want = (first - mu) / np.sqrt(var + 1e-6) * weight + bias
    assert max_diff(model.features(jnp.asarray(z["video"])), want) <= 1e-5


def test_videomae_model_layout_without_prefix(tmp_path):
    """A bare VideoMAEModel folder (no videomae. prefix) plus the head, as saved from other code."""
    tensors = {k.removeprefix("videomae."): v for k, v in _tensors().items()}
    _convert(tmp_path, tensors)
    model, _ = models.load(str(tmp_path / "edited_out"))
    z = _io()
    assert max_diff(model(jnp.asarray(z["video"])), z["logits"]) <= 1e-5


def test_other_configs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="model_type 'vjepa2'"):
        _convert(tmp_path, _tensors(), {**_config_json(), "model_type": "vjepa2"}, name="a")
    with pytest.raises(ValueError, match="qv_bias false"):
        _convert(tmp_path, _tensors(), {**_config_json(), "qv_bias": False}, name="b")


def test_other_frame_counts_take_the_first_rows_of_the_sinusoid():
    """transformers cannot run another frame count; the official-format port's rule (the sinusoid for
    the new token count, i.e. its first rows) applies (the kit runs 2 frames)."""
    table4 = np.asarray(loaded("videomae_hf_dev").pos_embed[...])
    table2 = np.asarray(loaded("videomae_hf_dev", num_frames=2).pos_embed[...])
    np.testing.assert_array_equal(table2, table4[:, :16])


def test_drop_head_drops_the_classifier(tmp_path):
    """--drop_head drops this family's head (``classifier.*``), leaving the same features."""
    dst = str(tmp_path / "no_head")
    status, _ = cli_in_process("--family", "videomae_hf", "--src", CASE, "--dst", dst, "--drop_head")
    assert status == 0
    meta = json.load(open(os.path.join(dst, "model.json")))
    assert meta["model_config"]["num_classes"] == 0
    assert meta["source"]["dropped_keys"] == ["classifier.bias", "classifier.weight"]
    video = jnp.asarray(_io()["video"])
    assert max_diff(models.load(dst)[0].features(video), _io()["features"]) <= 1e-5
