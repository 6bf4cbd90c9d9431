"""SigLIP / fixed-resolution SigLIP 2 in transformers' format (a ``SiglipModel`` folder): what only this
family has — its stored logit scale and bias, position-table interpolation, config and registered sizes,
and the tokenizer rules.

The fixture (tests/fixtures/hf/siglip_dev, copied from the shared fixtures, README.txt beside it) is
transformers 5.24.0's SiglipModel on random weights: `frame_features` (get_image_features per frame),
`features` (their mean over frames), `text_features` (get_text_features of `token_ids`, no attention mask)
and `logits` (cosine · exp(logit_scale) + logit_bias). The conformance kit (test_family_conformance.py,
case siglip_dev) converts it with the command and matches those at 1e-5, with --verify, frame counts,
bfloat16 and damaged keys. The tokenizer has no fixture (no network): tiny sentencepiece models trained
here check its rules (transformers' SiglipTokenizer, Gemma for SigLIP 2) against an independent spelling
of them.
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sentencepiece as spm
from family_cases import loaded
from flax import nnx
from port_cases import HFCase, max_diff

from gesture_jax import models
from gesture_jax.models import pos_embed, registry, siglip
from gesture_jax.ports import convert
from gesture_jax.text import siglip_tokenizer as siglip_text

HF = HFCase("siglip_dev")
_io, _tensors, _config_json, _folder = HF.io, HF.tensors, HF.config_json, HF.folder


# Jitted: an eager call costs seconds, op by op.
_features = nnx.jit(lambda model, video: model.features(video))
_text = nnx.jit(lambda model, ids: model.encode_text(ids))


def test_the_logit_scale_and_bias_are_the_checkpoints():
    """The zero-shot rule reads them as stored (the kit matches its logits)."""
    model, t = loaded("siglip_dev"), _tensors()
    assert np.array_equal(np.asarray(model.logit_scale[...]), t["logit_scale"])
    assert np.array_equal(np.asarray(model.logit_bias[...]), t["logit_bias"])


def test_other_resolutions_interpolate_the_table_as_transformers():
    """interpolate_pos_encoding: torch bicubic (align_corners=False) of the 4×4 table to the new grid; the
    native size uses the table as stored (the kit runs a 48×40 frame)."""
    model = loaded("siglip_dev")
    table = np.asarray(model.vision.position_embedding[...])
    assert np.array_equal(np.asarray(model.vision.positions(4, 4)), table)
    grid = table.reshape(4, 4, -1).astype(np.float64)
    for h, w in [(6, 6), (3, 5)]:
        want = pos_embed.resize_bicubic(pos_embed.resize_bicubic(grid, h, axis=0), w, axis=1)
        got = np.asarray(model.vision.positions(h, w)).reshape(h, w, -1)
        assert max_diff(got, want) <= 1e-5
        jax_cubic = jax.image.resize(
            jnp.asarray(grid, jnp.float32), (h, w, grid.shape[-1]), "cubic-pytorch", antialias=False
        )
        assert max_diff(got, jax_cubic) <= 1e-5
    # A frame that is not a patch multiple drops its last rows and columns, as the "valid" conv does.
    z = _io()
    padded = np.pad(z["video"], ((0, 0), (0, 0), (0, 7), (0, 7), (0, 0)), constant_values=9.0)
    assert max_diff(_features(model, jnp.asarray(padded)), z["features"]) <= 1e-5


def test_a_config_that_lies_is_refused_by_the_shapes(tmp_path):
    """config.json says 4-px patches: the checkpoint's patch kernel and position table name the lie."""
    config = _config_json()
    config["vision_config"] = {**config["vision_config"], "patch_size": 4}
    src = _folder(tmp_path / "damaged", _tensors(), config)
    with pytest.raises(convert.PortError) as err:
        convert.convert("siglip", src, str(tmp_path / "out"), model_config=None)
    assert not os.path.exists(tmp_path / "out")
    assert "vision_model.embeddings.patch_embedding.weight: [64, 3, 8, 8]" in str(err.value)
    assert "vision_model.embeddings.position_embedding.weight: [16, 64]" in str(err.value)


def test_config_from_source():
    ours = siglip.config_from_source(_config_json())
    assert ours == dict(
        img_size=32, patch_size=8, width=64, layers=2, heads=4, mlp_dim=256, layer_norm_eps=1e-6,
        text_width=64, text_layers=2, text_heads=4, text_mlp_dim=256, vocab_size=300, context_length=16,
        text_layer_norm_eps=1e-6, projection_size=64,
    )  # fmt: skip
    # A Hub config.json is minimal: transformers' defaults fill it (SigLIP 2 B/16 sets the vocabulary only).
    hub = {"model_type": "siglip", "text_config": {"vocab_size": 256000}, "vision_config": {}}
    expected = {k: v for k, v in registry.get("siglip2-b16").model_config.items() if k != "num_frames"}
    from_hub = siglip.config_from_source(hub)
    assert {k: from_hub[k] for k in expected} == expected and from_hub["context_length"] == 64
    for bad, why in [
        ({"model_type": "siglip2"}, "NaFlex"),
        ({"vision_config": {"hidden_act": "gelu"}}, "vision_config.hidden_act='gelu'"),
        ({"vision_config": {"vision_use_head": False}}, "vision_use_head"),
    ]:
        with pytest.raises(ValueError, match=why):
            siglip.config_from_source(bad)


@pytest.mark.slow
def test_registered_sizes_build_the_public_shapes():
    for name, tokens, params in [("siglip2-b16", 196, 375e6), ("siglip2-so400m14", 729, 1.13e9)]:
        info = registry.get(name)
        shapes = models.param_shapes("siglip", info.model_config)
        assert shapes["vision.position_embedding"][0] == tokens
        total = sum(int(np.prod(s)) for s in shapes.values())
        assert abs(total - params) / params < 0.01, (name, total)
        assert info.spec.crop_size == info.model_config["img_size"] and info.spec.mean == (0.5,) * 3


def test_layer_index():
    config = registry.get("siglip2-b16").model_config
    assert siglip.num_layers(config) == 14
    assert siglip.layer_index(("vision", "patch_embedding"), config) == 0
    assert siglip.layer_index(("vision", "layers", "3", "mlp", "fc1", "kernel"), config) == 4
    assert siglip.layer_index(("vision", "head", "probe"), config) == 13
    assert siglip.layer_index(("text", "head", "kernel"), config) == -1
    assert siglip.layer_index(("logit_scale",), config) == -1


# ---------------------------------------------------------------- the tokenizer

_CORPUS = [
    "a photo of a cat",
    "a photo of a dog",
    "someone waves a hand",
    "a person claps both hands",
    "thumbs up with the right hand",
    "swiping left with two fingers",
    "Zooming in with the whole hand",
    "pointing at the camera",
] * 20


def _train(tmp_path, name, **options):
    text = tmp_path / f"{name}.txt"
    text.write_text("\n".join(_CORPUS))
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(tmp_path / name), hard_vocab_limit=False, minloglevel=2, **options
    )
    return str(tmp_path / f"{name}.model")


@pytest.fixture(scope="module")
def siglip_folder(tmp_path_factory):
    """A SigLIP-style folder: a T5-like unigram spiece.model (pad 0, </s> 1, <unk> 2)."""
    folder = tmp_path_factory.mktemp("siglip_tok")
    model = _train(
        folder, "spm", vocab_size=60, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, model_type="unigram"
    )
    os.rename(model, folder / "spiece.model")
    return str(folder)


@pytest.fixture(scope="module")
def gemma_folder(tmp_path_factory):
    """A SigLIP 2-style folder: a Gemma-like BPE tokenizer.model (<pad> 0, <eos> 1, <bos> 2, <unk> 3)."""
    folder = tmp_path_factory.mktemp("gemma_tok")
    model = _train(
        folder, "spm", vocab_size=300, pad_id=0, eos_id=1, bos_id=2, unk_id=3, model_type="bpe",
        eos_piece="<eos>", bos_piece="<bos>", byte_fallback=True, add_dummy_prefix=False,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
    )  # fmt: skip
    os.rename(model, folder / "tokenizer.model")
    return str(folder)


def test_siglip_tokenizer_rules(siglip_folder):
    tok = siglip_text.SiglipTokenizer.from_folder(siglip_folder)
    plain = spm.SentencePieceProcessor(
        model_file=os.path.join(siglip_folder, "spiece.model")
    )  # dummy prefix on
    ids = tok(["A photo, of a CAT!", "a   photo of a cat"])
    assert ids.shape == (2, 64) and ids.dtype == np.int32
    expected = plain.encode("a photo of a cat")  # lower-cased, punctuation gone, whitespace collapsed
    assert ids[0].tolist() == ids[1].tolist() == [*expected, 1] + [1] * (63 - len(expected))
    assert tok.pad_id == tok.eos_id == 1  # SiglipTokenizer pads with </s>
    # Too long: the text is cut so that </s> still ends the row at position 63.
    long = tok(" ".join(["someone waves a hand"] * 40))[0]
    assert long[-1] == 1 and 1 not in long[:-1].tolist()
    assert long[:-1].tolist() == plain.encode(" ".join(["someone waves a hand"] * 40))[:63]
    assert siglip_text.canonicalize_text("  Hello,   world!\t(ok) ") == "Hello world ok"
    # Another context length (the dev fixture's 16), and the config's do_lower_case.
    assert siglip_text.SiglipTokenizer.from_folder(siglip_folder, context_length=16)("a cat").shape == (1, 16)
    with open(os.path.join(siglip_folder, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False}, f)
    try:
        cased = siglip_text.SiglipTokenizer.from_folder(siglip_folder)("A photo")[0]
        assert cased[: len(plain.encode("A photo"))].tolist() == plain.encode("A photo")
    finally:
        os.remove(os.path.join(siglip_folder, "tokenizer_config.json"))


def test_gemma_tokenizer_rules(gemma_folder):
    sp = spm.SentencePieceProcessor(model_file=os.path.join(gemma_folder, "tokenizer.model"))
    text = "Thumbs up, with the right hand"
    body = sp.encode(text)
    # GemmaTokenizer's defaults: <bos> first, no <eos>, cased; padded on the right with <pad> (0).
    row = siglip_text.SiglipTokenizer.from_folder(gemma_folder)(text)[0]
    assert row.tolist() == [2, *body] + [0] * (63 - len(body))
    config = os.path.join(gemma_folder, "tokenizer_config.json")
    with open(config, "w") as f:
        json.dump({"tokenizer_class": "Siglip2Tokenizer", "add_bos_token": False, "add_eos_token": True}, f)
    try:
        tok = siglip_text.SiglipTokenizer.from_folder(gemma_folder)
        lower = sp.encode(text.lower())
        assert tok(text)[0].tolist() == [*lower, 1] + [0] * (63 - len(lower))
        long = tok(" ".join([text] * 30))[0]
        assert long[-1] == 1 and long[:-1].tolist() == sp.encode(" ".join([text] * 30).lower())[:63]
    finally:
        os.remove(config)


def test_tokenizer_needs_a_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no spiece.model"):
        siglip_text.SiglipTokenizer.from_folder(str(tmp_path))


def test_tokenized_text_runs_the_text_tower(tmp_path):
    """Ids from a tokenizer whose vocabulary fits the dev model (300) go through `encode_text`."""
    model = loaded("siglip_dev")
    folder = tmp_path / "tok"
    folder.mkdir()
    os.rename(
        _train(folder, "spm", vocab_size=60, pad_id=0, eos_id=1, unk_id=2, bos_id=-1), folder / "spiece.model"
    )
    ids = siglip_text.SiglipTokenizer.from_folder(str(folder), context_length=16)(["a cat", "a dog"])
    text = _text(model, jnp.asarray(ids))
    assert text.shape == (2, 64) and np.isfinite(np.asarray(text)).all()
    assert model.zeroshot_logits(_features(model, jnp.asarray(_io()["video"])), text).shape == (2, 2)
