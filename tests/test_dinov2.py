"""DINOv2 in transformers' format (a ``Dinov2Model`` folder): what only this family has.

The fixture (tests/fixtures/hf/dinov2_dev, copied from the shared fixtures, README.txt beside it) is
transformers 5.24.0's Dinov2Model on random weights: `frame_tokens` (last_hidden_state per frame),
`frame_cls` (pooler_output per frame) and `features` (their mean over frames), at the table's own size.
The conformance kit (test_family_conformance.py, case dinov2_dev) converts it with the command and checks
those outputs, --verify, frame counts, bfloat16 and damaged keys. Here: other frame sizes (position
interpolation) and the SwiGLU FFN, which have no torch fixture, checked against a float64 numpy forward
written from transformers' modeling_dinov2 (itself first checked against the fixture, with the
repository's torch-exact bicubic, `pos_embed.resize_bicubic`); the image-classification layout, other
model types, the registered sizes and layer indices. Tolerance 1e-5 (port_cases).
"""

import jax.numpy as jnp
import numpy as np
import pytest
from family_cases import loaded
from flax import nnx
from port_cases import HFCase, max_diff
from scipy.special import erf

from gesture_jax import models
from gesture_jax.models import dinov2, pos_embed, registry
from gesture_jax.ports import convert

HF = HFCase("dinov2_dev")
_io, _tensors, _config_json, _folder = HF.io, HF.tensors, HF.config_json, HF.folder
# Jitted: an eager forward costs seconds, op by op.
_features = nnx.jit(lambda model, video: model.features(video))


# ---------------------------------------------------------------- a float64 numpy transformers forward


def _ln(x, w, b, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * w + b


def _lin(x, t, name):
    return x @ t[f"{name}.weight"].T + t[f"{name}.bias"]


def _reference(t, frames, heads, patch):
    """Dinov2Model(pixel_values).last_hidden_state for frames [N, H, W, 3], float64."""
    t = {k: v.astype(np.float64) for k, v in t.items()}
    n, height, width = frames.shape[:3]
    h, w = height // patch, width // patch
    x = frames[:, : h * patch, : w * patch].reshape(n, h, patch, w, patch, 3)
    kernel = t["embeddings.patch_embeddings.projection.weight"]  # [D, 3, p, p]
    x = np.einsum("nhpwqc,dcpq->nhwd", x, kernel) + t["embeddings.patch_embeddings.projection.bias"]
    d = x.shape[-1]
    table = t["embeddings.position_embeddings"][0]
    g = int(round((table.shape[0] - 1) ** 0.5))
    grid = table[1:].reshape(g, g, d)
    if h * w != g * g or height != width:  # interpolate_pos_encoding: size=(h, w), bicubic, no antialias
        grid = pos_embed.resize_bicubic(pos_embed.resize_bicubic(grid, h, axis=0), w, axis=1)
    x = np.concatenate([np.broadcast_to(t["embeddings.cls_token"], (n, 1, d)), x.reshape(n, h * w, d)], 1)
    x = x + np.concatenate([table[:1], grid.reshape(h * w, d)])[None]
    layer = 0
    while f"encoder.layer.{layer}.norm1.weight" in t:
        p = f"encoder.layer.{layer}."
        y = _ln(x, t[p + "norm1.weight"], t[p + "norm1.bias"])
        q, k, v = (
            _lin(y, t, p + f"attention.attention.{s}").reshape(n, -1, heads, d // heads)
            for s in ("query", "key", "value")
        )
        logits = np.einsum("nqhd,nkhd->nhqk", q, k) / np.sqrt(d // heads)
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        y = np.einsum("nhqk,nkhd->nqhd", probs, v).reshape(n, -1, d)
        x = x + _lin(y, t, p + "attention.output.dense") * t[p + "layer_scale1.lambda1"]
        y = _ln(x, t[p + "norm2.weight"], t[p + "norm2.bias"])
        if p + "mlp.weights_in.weight" in t:
            gate, up = np.split(_lin(y, t, p + "mlp.weights_in"), 2, axis=-1)  # torch chunk(2, -1)
            y = _lin(gate / (1 + np.exp(-gate)) * up, t, p + "mlp.weights_out")
        else:
            y = _lin(y, t, p + "mlp.fc1")
            y = _lin(0.5 * y * (1 + erf(y / np.sqrt(2))), t, p + "mlp.fc2")
        x = x + y * t[p + "layer_scale2.lambda1"]
        layer += 1
    return _ln(x, t["layernorm.weight"], t["layernorm.bias"])


def _reference_features(t, video, heads=4, patch=8):
    b, f = video.shape[:2]
    tokens = _reference(t, video.reshape(b * f, *video.shape[2:]).astype(np.float64), heads, patch)
    return tokens[:, 0].reshape(b, f, -1).mean(1)


# ------------------------------------------------------------------------------------------------ tests


def test_reference_forward_matches_the_fixture():
    """The numpy forward the other tests compare against is transformers' forward."""
    z = _io()
    assert max_diff(_reference_features(_tensors(), z["video"]), z["features"]) <= 1e-5


@pytest.mark.parametrize("size", [(48, 48), (16, 16), (40, 24), (32, 24)])
def test_other_frame_sizes_interpolate_the_table_as_transformers(size):
    """Another grid (or a non-square frame) gets the 4×4 table resized with torch's bicubic."""
    video = np.random.default_rng(0).normal(size=(1, 2, *size, 3)).astype(np.float32)
    want = _reference_features(_tensors(), video)
    assert max_diff(_features(loaded("dinov2_dev"), jnp.asarray(video)), want) <= 1e-5


def test_swiglu_ffn_as_dinov2_giant(tmp_path):
    """ViT-g's FFN: weights_in = [gate | up], silu(gate) · up, weights_out (a synthetic folder)."""
    rng = np.random.default_rng(1)
    tensors = {k: v for k, v in _tensors().items() if ".mlp.fc" not in k}
    hidden = (int(64 * 4 * 2 / 3) + 7) // 8 * 8  # 176: transformers' rule
    for i in range(2):
        p = f"encoder.layer.{i}.mlp."
        tensors[p + "weights_in.weight"] = rng.normal(0, 0.1, (2 * hidden, 64)).astype(np.float32)
        tensors[p + "weights_in.bias"] = rng.normal(0, 0.1, 2 * hidden).astype(np.float32)
        tensors[p + "weights_out.weight"] = rng.normal(0, 0.1, (64, hidden)).astype(np.float32)
        tensors[p + "weights_out.bias"] = rng.normal(0, 0.1, 64).astype(np.float32)
    src = _folder(tmp_path / "swiglu", tensors, {**_config_json(), "use_swiglu_ffn": True})
    meta = convert.convert("dinov2", src, str(tmp_path / "out"), model_config=None)
    assert meta["model_config"]["use_swiglu_ffn"] is True
    video = _io()["video"]
    got = _features(models.load(str(tmp_path / "out"))[0], jnp.asarray(video))
    assert max_diff(got, _reference_features(tensors, video)) <= 1e-5


@pytest.mark.slow
def test_registered_sizes():
    """S/B/L/g at 14-px patches with the 37×37 table: parameter counts of the released models (mask_token
    excluded) and ViT-g's SwiGLU width 4096."""
    counts = {}
    for name in ("dinov2-s14", "dinov2-b14", "dinov2-l14", "dinov2-g14"):
        shapes = models.param_shapes("dinov2", registry.get(name).model_config)
        counts[name] = sum(int(np.prod(s)) for s in shapes.values())
        assert shapes["pos_embed"][1] == 1 + 37 * 37
    assert shapes["blocks.0.mlp.weights_in.kernel"] == (1536, 2 * 4096)
    # The model cards' counts (facebook/dinov2-*): 22.1M, 86.6M, 304M, 1.14B.
    expected = {"dinov2-s14": 22.1e6, "dinov2-b14": 86.6e6, "dinov2-l14": 304e6, "dinov2-g14": 1.14e9}
    for name, want in expected.items():
        assert abs(counts[name] / want - 1) < 0.01, (name, counts[name])
    spec = registry.get("dinov2-b14").spec
    assert (spec.resize_size, spec.crop_size, spec.crop, spec.num_frames) == (256, 224, "center_floor", 8)


def test_image_classification_layout_prefix_and_head(tmp_path):
    """Dinov2ForImageClassification: the backbone under ``dinov2.``, its head dropped by rule."""
    tensors = {f"dinov2.{k}": v for k, v in _tensors().items()}
    tensors["classifier.weight"] = np.ones((5, 128), np.float32)
    tensors["classifier.bias"] = np.ones(5, np.float32)
    meta = convert.convert(
        "dinov2", _folder(tmp_path / "cls", tensors), str(tmp_path / "out"), model_config=None
    )
    assert meta["source"]["dropped_keys"] == [
        "classifier.bias",
        "classifier.weight",
        "dinov2.embeddings.mask_token",
    ]
    model, _ = models.load(str(tmp_path / "out"))
    z = _io()
    assert max_diff(_features(model, jnp.asarray(z["video"])), z["features"]) <= 1e-5


def test_other_model_types_are_refused(tmp_path):
    config = {**_config_json(), "model_type": "dinov2_with_registers"}
    with pytest.raises(ValueError, match="model_type 'dinov2_with_registers'"):
        convert.convert(
            "dinov2", _folder(tmp_path / "r", _tensors(), config), str(tmp_path / "o"), model_config=None
        )


def test_layer_index():
    config = registry.get("dinov2-s14").model_config
    assert dinov2.num_layers(config) == 14
    assert [
        dinov2.layer_index(p, config) for p in [("cls_token",), ("blocks", 3, "attn"), ("norm", "scale")]
    ] == [
        0,
        4,
        13,
    ]
