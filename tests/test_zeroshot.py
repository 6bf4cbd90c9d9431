"""Zero-shot: prompt sets, the ensembling and scoring math, parity with ViCLIP's official scores, the mode."""

from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from mode_cases import write_small_merges

from gesture_jax import models
from gesture_jax.analysis import zeroshot
from gesture_jax.ports import convert
from gesture_jax.text import clip_bpe as text
from gesture_jax.text import prompts

TOWER = models.text_tower("viclip")

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "models" / "viclip_dev.npz"
CHECKPOINT = ROOT / "tests" / "fixtures" / "checkpoints" / "viclip_dev.pth"
# The real merges file is OpenAI's data and stays out of the repository (as in test_text.py).
VOCAB = text.BUNDLED_VOCAB  # OpenAI CLIP's, MIT, shipped in the package


def _unit_rows(x):
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# --- prompt sets -------------------------------------------------------------------------------------


def test_every_prompt_set_covers_rocog_classes():
    assert prompts.names()[:5] == [
        "names",
        "names_spaced",
        "names_templates",
        "descriptions",
        "descriptions_templates",
    ]
    for name in prompts.names():
        per_class = prompts.get(name).prompts(prompts.ROCOG_V2_CLASSES)
        assert len(per_class) == 7 and all(per_class), name
        assert all("{}" not in p for texts in per_class for p in texts), name


def test_prompt_sets_by_protocol():
    assert prompts.get("names").prompts(("MoveForward", "Halt")) == [["MoveForward"], ["Halt"]]
    assert prompts.get("names_spaced").prompts(("MoveInReverse",)) == [["move in reverse"]]
    templated = prompts.get("names_templates").prompts(("FollowMe",))[0]
    assert len(templated) >= 5 and all("follow me" in p for p in templated)
    variants = prompts.get("descriptions_templates")
    assert all(2 <= len(v) <= 3 for v in variants.texts.values()) and len(variants.templates) >= 2


def test_missing_class_is_named():
    with pytest.raises(ValueError, match=r"'descriptions' has no texts for class\(es\) \['Wave'\]"):
        prompts.get("descriptions").prompts(("Halt", "Wave"))
    with pytest.raises(ValueError, match="unknown prompt set 'nope'.*names_spaced"):
        prompts.get("nope")
    with pytest.raises(ValueError, match="exactly one"):
        prompts.PromptSet("bad", ("no slot",), {"Halt": ("halt",)})


def test_every_prompt_fits_the_context_with_the_real_vocabulary():
    tokenizer = text.get_tokenizer(VOCAB)
    for name in prompts.names():
        for texts in prompts.get(name).prompts(prompts.ROCOG_V2_CLASSES):
            for prompt in texts:
                assert len(tokenizer.encode(prompt)) + 2 <= 32, (name, prompt)  # + SOT and EOT


# --- the math ----------------------------------------------------------------------------------------


def test_ensemble_is_the_normalised_mean_of_normalised_prompts():
    # Normalising before averaging matters: the plain means of classes 0 and 2 point elsewhere.
    features = np.array([[3.0, 0.0], [0.0, 0.5], [0.0, 2.0], [-1.0, 1.0], [2.0, 2.0]])
    embeddings = zeroshot.ensemble(features, [2, 1, 2])
    np.testing.assert_allclose(embeddings, [[0.5**0.5, 0.5**0.5], [0.0, 1.0], [0.0, 1.0]], atol=1e-7)
    assert embeddings.dtype == np.float32
    with pytest.raises(ValueError, match="do not split"):
        zeroshot.ensemble(features, [2, 2])


def test_scores_are_softmax_of_100_cosines():
    rng = np.random.default_rng(0)
    video, classes = _unit_rows(rng.normal(size=(6, 8))), _unit_rows(rng.normal(size=(4, 8)))
    predictions, probs = zeroshot.zeroshot_scores(video, classes)
    logits = 100 * np.array([[v @ t for t in classes] for v in video])
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(zeroshot.zeroshot_logits(video, classes), logits, atol=1e-4)
    np.testing.assert_array_equal(predictions, logits.argmax(1))
    assert predictions.dtype == np.int32 and probs.shape == (6, 4)
    _, flat = zeroshot.zeroshot_scores(video, classes, scale=1.0)
    assert flat.max() < probs.max()  # a smaller scale flattens the distribution


def test_unnormalised_features_are_an_error():
    unit = _unit_rows(np.eye(3))
    with pytest.raises(ValueError, match="video features are not L2-normalised"):
        zeroshot.zeroshot_scores(2 * unit, unit)
    with pytest.raises(ValueError, match="class embeddings are not L2-normalised"):
        zeroshot.zeroshot_scores(unit, 0.5 * unit)
    with pytest.raises(ValueError, match="3-d but class embeddings 2-d"):
        zeroshot.zeroshot_scores(unit, _unit_rows(np.eye(2)))


@pytest.mark.slow
def test_class_embeddings_with_the_toy_model(tmp_path):
    model, _ = models.create("toy-viclip")
    vocab = write_small_merges(tmp_path / "merges.txt.gz")
    names = prompts.ROCOG_V2_CLASSES
    ensembled = zeroshot.class_embeddings(model, "names_templates", names, tower=TOWER, vocab_path=vocab)
    assert ensembled.shape == (7, 64)
    np.testing.assert_allclose(np.linalg.norm(ensembled, axis=1), 1, atol=1e-6)
    # One prompt per class: the ensemble is the text feature itself, whatever the batch padding.
    single = zeroshot.class_embeddings(model, "names", names, tower=TOWER, vocab_path=vocab)
    direct = model.encode_text(jnp.asarray(text.clip_tokenize(list(names), vocab_path=vocab)))
    np.testing.assert_allclose(single, direct, atol=1e-6)
    vit, _ = models.create("toy-vit")
    with pytest.raises(ValueError, match="no text tower"):
        zeroshot.class_embeddings(vit, "names", names, tower=TOWER, vocab_path=vocab)


# --- parity with the official ViCLIP zero-shot numbers ----------------------------------------------


@pytest.mark.slow
def test_matches_official_viclip_scores(tmp_path):
    z = np.load(FIXTURE)
    config = json.loads(z["config"].item())
    dst = str(tmp_path / "viclip_dev")
    convert.convert(
        "viclip", str(CHECKPOINT), dst, model_config=convert.model_config_from_json("viclip", config)
    )
    model, _ = models.load(dst)
    video = model.features(jnp.asarray(z["video_bthwc"]))
    texts = model.encode_text(jnp.asarray(z["token_ids"]))  # the fixture's synthetic vocabulary, not CLIP's
    predictions, probs = zeroshot.zeroshot_scores(video, texts)
    np.testing.assert_allclose(zeroshot.zeroshot_logits(video, texts), z["logits_100cos"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(probs, z["scores"], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(predictions, z["topk_labels"][:, 0])
