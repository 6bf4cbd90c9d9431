"""VideoPrism: what only this family has — the LvT text tower's paddings, a shifted LayerNorm scale that
breaks the match, the official tokenizer, the un-scanned layout, an encoder file given as LvT, the .npz
reader, the registered sizes, the official builders' configs and layer indices.

The fixtures (tests/fixtures/videoprism) are the official JAX code's outputs on each stored
``checkpoint.npz`` as it is: every comparison converts the stored file unchanged. The conformance kit
(test_family_conformance.py, cases videoprism_dev and videoprism_lvt_dev) converts them with the command
and matches the factorized encoder's tokens and mean feature (at the table's frame count and fewer) and
the LvT video and text embeddings and scores at 1e-5, with --verify, bfloat16 and damaged keys.
"""

import json
import os

import numpy as np
import pytest
from family_cases import loaded
from flax import nnx
from port_cases import ROOT, max_diff

from gesture_jax import models
from gesture_jax.data.spec import VideoSpec
from gesture_jax.data.transforms import normalize
from gesture_jax.models import registry, videoprism
from gesture_jax.ports import convert, sources
from gesture_jax.text.videoprism_tokenizer import canonicalize_text, tokenize_texts

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "videoprism")
ENCODER, LVT = "videoprism_dev", "videoprism_lvt_dev"
TEXTS = [
    "Advance",
    "Move in reverse",
    "Halt!",
    "a person raises both arms above the head, palms forward",
    "Rally: circle the arm overhead, then point.",
    "follow   me",
]


def path(case, name):
    return os.path.join(FIXTURES, case, name)


def io(case):
    return np.load(path(case, "io.npz"))


def stored(case):
    return dict(np.load(path(case, "checkpoint.npz")))


def write_npz(tmp_path, name, tensors):
    file = str(tmp_path / f"{name}.npz")
    np.savez(file, **tensors)
    return file


def model_config(case):
    with open(path(case, "config.json")) as f:
        return convert.model_config_from_json("videoprism", json.load(f))


def convert_weights(tmp_path, case, tensors, name="out"):
    src = write_npz(tmp_path, name, tensors)
    dst = str(tmp_path / f"{name}_dir")
    convert.convert("videoprism", src, dst, model_config=model_config(case))
    return src, dst


def test_lvt_text_paddings_are_never_attended_to():
    """The kit matches the text embeddings given the official paddings; without them, the ids
    tokenize_texts pads with (0) are the padding, and a padded position's id changes nothing."""
    z = io(LVT)
    ids = np.array(z["token_ids"])
    ids[z["text_paddings"] > 0] = 7

    @nnx.jit  # one compiled call: eager forwards cost seconds, op by op
    def run(model, ids, ids7, paddings):
        return model.encode_text(ids), model.encode_text(ids7, paddings=paddings), model.encode_text(ids7)

    plain, text7, unpadded7 = run(loaded(LVT), z["token_ids"], ids, z["text_paddings"])
    assert max_diff(plain, z["text_embeddings"]) <= 1e-5
    assert max_diff(text7, z["text_embeddings"]) <= 1e-5
    assert not np.allclose(unpadded7, z["text_embeddings"], atol=1e-3)


def test_a_shifted_layernorm_scale_breaks_the_match(tmp_path):
    """The kit's parity can fail: the un-scanned LayerNorm scales moved by +1 (the in-place ``scale += 1``
    that once corrupted these fixtures) take the tokens far from the official ones."""
    shifted = {k: v + 1 if k.endswith("_ln/scale") else v for k, v in stored(ENCODER).items()}
    assert sum(k.endswith("_ln/scale") for k in shifted) == 2  # spatial_ln, temporal_ln
    _, dst = convert_weights(tmp_path, ENCODER, shifted)
    tokens = nnx.jit(lambda model, video: model.tokens(video))(models.load(dst)[0], io(ENCODER)["video"])
    assert max_diff(tokens, io(ENCODER)["tokens"]) > 1.0


def test_tokenizer_is_the_official_one():
    ids, paddings = tokenize_texts(TEXTS, path(LVT, "test_spm.model"), max_length=16)
    z = np.load(path(LVT, "tokenizer.npz"))
    assert ids.dtype == np.int32 and paddings.dtype == np.float32
    np.testing.assert_array_equal(ids, z["token_ids"])
    np.testing.assert_array_equal(paddings, z["text_paddings"])
    np.testing.assert_array_equal(ids, io(LVT)["token_ids"])
    assert canonicalize_text("Hello,World..") == "hello world."
    assert canonicalize_text("  Hello   WORLD") == "hello world."
    # test_spm has BOS (1); without it and without canonicalisation the rows change accordingly.
    no_bos, _ = tokenize_texts(TEXTS, path(LVT, "test_spm.model"), max_length=16, add_bos=False)
    np.testing.assert_array_equal(no_bos[3, :15], ids[3, 1:])
    long, long_pad = tokenize_texts(TEXTS[3:4], path(LVT, "test_spm.model"), max_length=64)
    assert long_pad[0].sum() == 64 - (long[0] != 0).sum() and (long[0, :16] == ids[3]).all()


def test_unscanned_layout_converts_the_same(tmp_path):
    """Per-layer ``x_layers_<i>`` names (the official code with scan=False) are the same weights."""
    tensors = stored(ENCODER)
    unscanned = videoprism.prepare_checkpoint(tensors)
    assert "params/spatial_encoder/transformers_stack/x_layers_1/self_attention/query/w" in unscanned
    assert not any("/x_layers/" in k for k in unscanned)
    _, a = convert_weights(tmp_path, ENCODER, tensors, "scanned")
    _, b = convert_weights(tmp_path, ENCODER, unscanned, "unscanned")
    pa, pb = models.model_dir.read_params(a), models.model_dir.read_params(b)
    assert pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_an_encoder_checkpoint_is_not_an_lvt_model(tmp_path):
    src = path(ENCODER, "checkpoint.npz")
    with pytest.raises(convert.PortError, match=r"missing keys: .*params/vision_encoder/patch_projection"):
        convert.convert("videoprism", src, str(tmp_path / "x"), model_config=model_config(LVT))


def test_npz_source_reads_no_pickles(tmp_path):
    evil = str(tmp_path / "evil.npz")
    np.savez(evil, **{"params/x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(sources.SourceError, match="evil.npz: not a readable .npz"):
        sources.read("videoprism_npz", evil)
    with pytest.raises(sources.SourceError, match="is a folder"):
        sources.read("videoprism_npz", str(tmp_path))
    with pytest.raises(sources.SourceError, match="--state_key"):
        sources.read("videoprism_npz", path(ENCODER, "checkpoint.npz"), state_key="model")


@pytest.mark.slow
def test_registered_sizes_and_protocol():
    """The public sizes have the published parameter counts (114M, 354M, 248M, 580M) and take frames in
    [0, 1] (mean 0, std 1) at 288², 16 frames (base) or 8 (large)."""
    counts = {}
    for name in ("videoprism-b", "videoprism-l", "videoprism-lvt-b", "videoprism-lvt-l"):
        info = registry.get(name)
        shapes = models.param_shapes("videoprism", info.model_config)
        counts[name] = round(sum(int(np.prod(s)) for s in shapes.values()) / 1e6)
        frames = 16 if name.endswith("-b") else 8
        assert (info.spec.num_frames, info.spec.crop_size, info.spec.resize_size) == (frames, 288, 288)
    assert counts == {
        "videoprism-b": 114,
        "videoprism-l": 354,
        "videoprism-lvt-b": 248,
        "videoprism-lvt-l": 580,
    }
    spec = registry.get("videoprism-b").spec
    pixels = np.array([[0, 51, 255], [7, 128, 254]], np.uint8)
    np.testing.assert_allclose(normalize(pixels, spec.mean, spec.std), pixels / 255.0, rtol=1e-7)
    assert VideoSpec.from_dict(spec.to_dict()) == spec


# The official builders' arguments (videoprism/models.py CONFIGS @d481d91; the LvT builders add
# vocabulary_size from the c4_en tokenizer).
OFFICIAL = {
    "videoprism-b": dict(
        patch_size=18,
        pos_emb_shape=[16, 16, 16],
        model_dim=768,
        num_spatial_layers=12,
        num_temporal_layers=4,
        num_heads=12,
        mlp_dim=3072,
        atten_logit_cap=50.0,
        scan=True,
    ),
    "videoprism-lvt-l": dict(
        patch_size=18,
        pos_emb_shape=[8, 16, 16],
        num_spatial_layers=24,
        num_temporal_layers=4,
        mlp_dim=4096,
        num_auxiliary_layers=2,
        enable_causal_atten=True,
        num_unimodal_layers=12,
        norm_policy="pre",
        model_dim=1024,
        num_heads=16,
        atten_logit_cap=50.0,
        scan=True,
    ),
}


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_configs_are_the_registered_sizes(name):
    ours = convert.model_config_from_json("videoprism", OFFICIAL[name])
    config = videoprism.VideoPrismConfig
    assert config(**ours) == config(**registry.get(name).model_config)


def test_layer_indices_cover_every_parameter():
    for case in (ENCODER, LVT):
        config = model_config(case)
        depth = videoprism.num_layers(config)
        indices = {
            p: videoprism.layer_index(tuple(p.split(".")), config)
            for p in models.param_shapes("videoprism", config)
        }
        tower = {p: i for p, i in indices.items() if not p.startswith("text_encoder")}
        assert set(tower.values()) == set(range(depth))
        assert all(i == -1 for p, i in indices.items() if p.startswith("text_encoder"))
