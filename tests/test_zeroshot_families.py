"""Mode zeroshot with the text towers added after the paper: SigLIP (its own tokenizer from the folder
it was converted from, sigmoid scores with the converted logit scale and bias) and VideoPrism LvT (its
SentencePiece tokenizer, softmax of 100 · cosine). Each row's predictions are recomputed from the pieces."""

import json
import os
import types

import numpy as np
import pytest
import sentencepiece as spm

from gesture_jax import config_lib, models
from gesture_jax.analysis import zeroshot
from gesture_jax.evaluation import report
from gesture_jax.features import extraction as features
from gesture_jax.models import siglip, videoprism
from gesture_jax.modes import prompt_zeroshot
from gesture_jax.ports import convert
from gesture_jax.text import prompts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGLIP = os.path.join(ROOT, "tests", "fixtures", "hf", "siglip_dev")
LVT = os.path.join(ROOT, "tests", "fixtures", "videoprism", "videoprism_lvt_dev")
QUERIES = "toy_gestures/real_small:test"


def _config(toy_data_dir, name, checkpoint, vocab_path=""):
    config = config_lib.load_file("configs/zeroshot/demo.py:smoke")
    with config.unlocked():
        config.data.data_dir = toy_data_dir
        config.encoder = config_lib.encoder(name, checkpoint=checkpoint)
        config.zeroshot.prompt_sets = ("names", "names_templates")
        config.zeroshot.fewshot.prompt_set = "names_templates"
        config.zeroshot.vocab_path = vocab_path
    return config


def _queries(workdir) -> features.VideoVectors:
    (entry,) = [e for e in os.listdir(workdir / "features") if "real_small_test" in e or "test" in e]
    return features.VideoVectors.load(str(workdir / "features" / entry / features.FEATURES_FILE))


@pytest.fixture(scope="module")
def siglip_converted(tmp_path_factory):
    """The SigLIP fixture folder with a small spiece.model beside it (the fixture has no tokenizer files;
    the dev model's vocabulary is 300), converted."""
    folder = tmp_path_factory.mktemp("siglip_src")
    for name in ("config.json", "model.safetensors"):
        os.symlink(os.path.join(SIGLIP, name), folder / name)
    corpus = folder / "corpus.txt"
    corpus.write_text(
        "\n".join(["a person raises both arms", "someone waves a hand", "halt move forward"] * 30)
    )
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(folder / "spiece"), vocab_size=60, pad_id=0, eos_id=1,
        unk_id=2, bos_id=-1, hard_vocab_limit=False, minloglevel=2,
    )  # fmt: skip
    dst = str(tmp_path_factory.mktemp("siglip") / "converted")
    convert.convert("siglip", str(folder), dst, model_config=None)
    return str(folder), dst


@pytest.mark.slow
def test_siglip_zero_shot_reads_the_source_folders_tokenizer_and_scores_by_sigmoid(
    siglip_converted, toy_data_dir, tmp_path
):
    folder, dst = siglip_converted
    config = _config(toy_data_dir, "siglip2-b16", dst)  # vocab_path "": the folder model.json names
    rows = prompt_zeroshot.run(config, str(tmp_path))
    model, _ = models.load(dst)
    scale, bias = float(model.logit_scale[...][0]), float(model.logit_bias[...][0])
    q = _queries(tmp_path)
    for row, prompt_set in zip(rows, ("names", "names_templates")):
        saved = report.row_json(row)
        assert (saved["scores"], saved["scale"], saved["logit_bias"]) == ("sigmoid", np.exp(scale), bias)
        classes = zeroshot.class_embeddings(
            model, prompt_set, row.class_names, tower=models.text_tower("siglip"), vocab_path=folder
        )
        assert models.text_tower("siglip").context(model) == 16
        v = q.vectors.astype(np.float64)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        want = ((v @ classes.astype(np.float64).T) * np.exp(scale) + bias).argmax(1)
        np.testing.assert_array_equal(row.predictions, want)
    # The features are SigLIP's own (not normalised): the KNN path's, unchanged.
    assert not np.allclose(np.linalg.norm(q.vectors, axis=1), 1.0)
    _check_prompt_lab(
        rows,
        model,
        q,
        folder,
        tower=siglip.TEXT,
        logits=lambda v, c: (v @ c.T) * np.exp(scale) + bias,
    )


@pytest.fixture(scope="module")
def lvt_converted(tmp_path_factory):
    dst = str(tmp_path_factory.mktemp("lvt") / "converted")
    config = json.load(open(os.path.join(LVT, "config.json")))
    model_config = convert.model_config_from_json("videoprism", config)
    convert.convert("videoprism", os.path.join(LVT, "checkpoint.npz"), dst, model_config=model_config)
    return dst


@pytest.mark.slow
def test_videoprism_lvt_zero_shot_with_its_sentencepiece_model(lvt_converted, toy_data_dir, tmp_path):
    spm_model = os.path.join(LVT, "test_spm.model")
    config = _config(toy_data_dir, "videoprism-lvt-b", lvt_converted, vocab_path=spm_model)
    rows = prompt_zeroshot.run(config, str(tmp_path))
    model, _ = models.load(lvt_converted)
    q = _queries(tmp_path)
    assert np.allclose(np.linalg.norm(q.vectors, axis=1), 1.0, atol=1e-5)  # LvT's normalised embedding
    for row, prompt_set in zip(rows, ("names", "names_templates")):
        assert (report.row_json(row)["scores"], report.row_json(row)["scale"]) == ("softmax", 100.0)
        classes = zeroshot.class_embeddings(
            model,
            prompt_set,
            row.class_names,
            tower=videoprism.TEXT,
            vocab_path=spm_model,
        )
        np.testing.assert_array_equal(row.predictions, (q.vectors @ classes.T).argmax(1))
    _check_prompt_lab(rows, model, q, spm_model, tower=videoprism.TEXT, logits=lambda v, c: v @ c.T)


def _check_prompt_lab(rows, model, q, vocab, *, tower, logits):
    """The prompt lab and text + examples run for this text tower: each single prompt of names_templates
    scored by its own embedding, and the few-shot rows beside them."""
    singles = [r for r in rows if r.method == "zeroshot" and "prompt" in r.settings]
    assert len(singles) == 6 and {r.settings["prompt_set"] for r in singles} == {"names_templates"}
    v = q.vectors.astype(np.float64) / np.linalg.norm(q.vectors, axis=1, keepdims=True)
    for row in singles:
        one = prompts.PromptSet(
            "one", ("{}",), {c: (t,) for c, t in zip(row.class_names, row.settings["texts"])}
        )
        classes = zeroshot.class_embeddings(model, one, row.class_names, tower=tower, vocab_path=vocab)
        scores = logits(v, classes.astype(np.float64))
        # The run embeds the texts in other batches than this check (padded rows), so a near-tie between
        # classes of these random towers may fall either way: the predicted class must score the top
        # score up to float32 noise, and all but near-ties must agree exactly.
        chosen = scores[np.arange(len(scores)), row.predictions]
        assert np.all(scores.max(1) - chosen <= 1e-5 * max(1.0, np.abs(scores).max()))
        assert (row.predictions != scores.argmax(1)).sum() <= 1
    assert {r.method for r in rows if "shots" in r.settings} == {"text_fewshot", "prototype", "zeroshot"}


@pytest.mark.slow
def test_videoprism_text_embedding_uses_the_paddings(lvt_converted):
    """Through zeroshot.encode_texts (rows padded to the compiled size), each text's embedding is the
    one encode_text gives it alone, with its paddings."""
    from gesture_jax.text import videoprism_tokenizer as videoprism_text

    model, _ = models.load(lvt_converted)
    spm_model = os.path.join(LVT, "test_spm.model")
    ids, paddings = videoprism_text.tokenize_texts(["Advance", "follow me", "Halt!"], spm_model, 16)
    batched = zeroshot.encode_texts(model, ids, paddings)
    for i in range(3):
        alone = np.asarray(model.encode_text(ids[i : i + 1], paddings=paddings[i : i + 1]))
        np.testing.assert_allclose(batched[i : i + 1], alone, atol=1e-6)
    assert not np.allclose(batched[0], batched[1])


def test_missing_or_mismatched_vocabularies_are_named(lvt_converted, siglip_converted, tmp_path):
    with pytest.raises(ValueError, match="needs --config.zeroshot.vocab_path: the SentencePiece model file"):
        zeroshot.resolve_vocab(videoprism.TEXT, None)
    with pytest.raises(FileNotFoundError, match="zeroshot.vocab_path /nowhere does not exist"):
        zeroshot.resolve_vocab(siglip.TEXT, "/nowhere")
    found = zeroshot.resolve_vocab(siglip.TEXT, None, siglip_converted[1])
    assert found == os.path.abspath(siglip_converted[0])

    # A tokenizer whose ids run past the text tower's table: refused before anything is encoded.
    class SmallTower:
        config = types.SimpleNamespace(vocabulary_size=5)

        def encode_text(self, token_ids, paddings=None):
            raise AssertionError("never reached")

    spm_model = os.path.join(LVT, "test_spm.model")
    with pytest.raises(ValueError, match="vocabulary has 5 entries: the tokenizer is not this checkpoint's"):
        zeroshot.class_embeddings(
            SmallTower(), "names", ("Advance", "Halt"), tower=videoprism.TEXT, vocab_path=spm_model
        )


def test_sigmoid_scores_are_siglips_logits(siglip_converted):
    """zeroshot.sigmoid_scores on the fixture's video and text features gives sigmoid of its `logits`
    (transformers: cos · exp(logit_scale) + logit_bias)."""
    z = np.load(os.path.join(SIGLIP, "io.npz"))
    model, _ = models.load(siglip_converted[1])
    scale, bias = float(model.logit_scale[...][0]), float(model.logit_bias[...][0])
    text = z["text_features"] / np.linalg.norm(z["text_features"], axis=1, keepdims=True)
    predictions, probabilities = zeroshot.sigmoid_scores(z["features"], text, scale, bias)
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-z["logits"])), atol=1e-6)
    np.testing.assert_array_equal(predictions, z["logits"].argmax(1))
