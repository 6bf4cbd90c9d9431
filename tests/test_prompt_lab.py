"""The zero-shot prompt lab and text + few examples: prompt files, single prompts, the text cache, the
spread, the mixing classifier and its weight chosen off the queries; the mode end to end with a user's
prompt file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from main_runs import run_main
from test_zeroshot import VOCAB

from gesture_jax import models
from gesture_jax.analysis import probes, zeroshot
from gesture_jax.evaluation import method_rows, prompt_lab, scoring, text_fewshot
from gesture_jax.features.extraction import VideoVectors
from gesture_jax.models import viclip
from gesture_jax.text import prompts

CLASSES = prompts.ROCOG_V2_CLASSES


def _write(path, content):
    path.write_text(content, encoding="utf-8")
    return str(path)


def test_prompt_files_in_both_formats(tmp_path):
    txt = _write(
        tmp_path / "mine.txt",
        "# comment\n\ntemplates: a video of {} | someone doing {}\nHalt: a raised hand | a stop sign\n"
        "Rally: a circling hand\n",
    )
    got = prompts.load_file(txt, CLASSES)
    assert got.name == "mine" and got.templates == ("a video of {}", "someone doing {}")
    assert got.texts == {"Halt": ("a raised hand", "a stop sign"), "Rally": ("a circling hand",)}
    assert got.prompts(("Rally",)) == [["a video of a circling hand", "someone doing a circling hand"]]
    js = _write(
        tmp_path / "set.json",
        json.dumps({"name": "json_set", "texts": {"Halt": "stop", "Rally": ["x", "y"]}}),
    )
    got = prompts.load_file(js)
    assert got.name == "json_set" and got.templates == ("{}",) and got.texts["Rally"] == ("x", "y")


@pytest.mark.parametrize(
    "content, message",
    [
        ("Halt a raised hand\n", r"line 1: expected 'Class: text \| text'"),
        ("Halt: a\nHalt: b\n", "class 'Halt' appears twice"),
        ("templates: no braces\nHalt: a\n", r"exactly one '\{\}'"),
        ("# mine\nHlat: a raised hand\n", r"line 2: 'Hlat' is not a class here \(did you mean 'Halt'\?\)"),
    ],
)
def test_bad_prompt_files_are_named(tmp_path, content, message):
    path = _write(tmp_path / "bad.txt", content)
    with pytest.raises(ValueError, match=message):
        prompts.load_file(path, CLASSES)


def test_bad_json_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match='expected an object with "texts"'):
        prompts.load_file(_write(tmp_path / "a.json", json.dumps(["Halt"])))
    with pytest.raises(ValueError, match="not valid JSON"):
        prompts.load_file(_write(tmp_path / "b.json", "{"))
    with pytest.raises(FileNotFoundError, match="prompt file /nowhere.txt does not exist"):
        prompts.load_file("/nowhere.txt")


def test_single_prompts_take_a_set_apart():
    s = prompts.PromptSet("s", ("a {}", "b {}"), {"X": ("x1", "x2"), "Y": ("y1",)})
    singles = s.single_prompts(("X", "Y"))
    assert singles == [
        ("template 1, text 1", ["a x1", "a y1"]),
        ("template 1, text 2", ["a x2", "a y1"]),  # Y has one text: it cycles
        ("template 2, text 1", ["b x1", "b y1"]),
        ("template 2, text 2", ["b x2", "b y1"]),
    ]
    assert prompts.get("names").single_prompts(("Halt",)) == [("the only prompt", ["Halt"])]
    # every single prompt's text is one the ensemble embeds
    ensemble = {t for texts in prompts.get("descriptions_templates").prompts(CLASSES) for t in texts}
    for _, texts in prompts.get("descriptions_templates").single_prompts(CLASSES):
        assert set(texts) <= ensemble


def test_text_features_are_cached_by_exact_inputs(tmp_path, monkeypatch):
    model, _ = models.create("toy-viclip")
    calls = []
    real = zeroshot.prompt_features
    monkeypatch.setattr(
        zeroshot, "prompt_features", lambda m, t, **kw: calls.append(list(t)) or real(m, t, **kw)
    )
    common = dict(tower=viclip.TEXT, vocab_path=str(VOCAB), cache_dir=str(tmp_path))
    about = {"encoder": "toy-viclip", "weights": {"random_init_seed": 0}}
    first = prompt_lab.text_features(model, ["a halt", "a rally"], about=about, **common)
    again = prompt_lab.text_features(model, ["a halt", "a rally"], about=about, **common)
    np.testing.assert_array_equal(first, again)
    assert len(calls) == 1  # the second came from the cache
    prompt_lab.text_features(model, ["a halt", "a rally!"], about=about, **common)
    prompt_lab.text_features(
        model, ["a halt", "a rally"], about={**about, "weights": {"random_init_seed": 1}}, **common
    )
    assert len(calls) == 3  # other texts, other weights: embedded again
    direct = zeroshot.prompt_features(model, ["a halt", "a rally"], tower=viclip.TEXT, vocab_path=str(VOCAB))
    assert viclip.TEXT.context(model) == 32  # the model config's context
    np.testing.assert_array_equal(first, direct)


def _vectors(rng, per_class, classes=7, dim=16, noise=0.3, centers=None):
    labels = np.repeat(np.arange(classes), per_class)
    x = centers[labels] + noise * rng.standard_normal((len(labels), dim))
    return VideoVectors(x.astype(np.float32), labels, np.array([f"v{i}" for i in range(len(labels))]))


def test_mixing_weight_ends_are_text_only_and_examples_only():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((7, 16))
    gallery, queries = _vectors(rng, 2, centers=centers), _vectors(rng, 5, centers=centers)
    text = rng.standard_normal((7, 16))  # text embeddings that know nothing
    protos = text_fewshot.prototypes(gallery, 7, CLASSES)
    v = queries.vectors / np.linalg.norm(queries.vectors, axis=1, keepdims=True)
    t = text / np.linalg.norm(text, axis=1, keepdims=True)
    np.testing.assert_array_equal(
        text_fewshot.scores(queries.vectors, text, protos, 0.0).argmax(1), (v @ t.T).argmax(1)
    )
    by_proto = probes.prototype_predict(
        gallery.vectors, gallery.labels, queries.vectors, metric="cosine", num_classes=7
    )
    np.testing.assert_array_equal(text_fewshot.scores(queries.vectors, text, protos, 1.0).argmax(1), by_proto)
    # useless text: the validation picks a weight towards the examples
    weight, acc = text_fewshot.choose_weight(
        _vectors(rng, 3, centers=centers), text, protos, text_fewshot.WEIGHTS
    )
    assert weight >= 0.5 and acc[0] < max(acc)
    # a tie goes to the smaller weight
    assert text_fewshot.choose_weight(queries, protos, protos, (0.3, 0.0, 1.0))[0] == 0.0
    with pytest.raises(ValueError, match=r"no example videos of \['Rally'\]"):
        text_fewshot.prototypes(VideoVectors(gallery.vectors[:4], np.array([0, 0, 1, 1]), gallery.ids[:4]), 3,
                                ("Advance", "Attention", "Rally"))  # fmt: skip


def test_fewshot_rows_share_draws_and_choose_off_the_queries():
    rng = np.random.default_rng(1)
    centers = rng.standard_normal((7, 16))
    pool, queries = _vectors(rng, 4, centers=centers), _vectors(rng, 3, centers=centers)
    text = centers + 2.0 * rng.standard_normal((7, 16))
    text_only = (queries.vectors @ text.T).argmax(1)
    key = scoring.RowKey("", "e", "frozen", "g", "q", prompt_set="p")
    mixed, examples, text_row = text_fewshot.rows(
        pool, queries, pool, text, shots=2, num_seeds=3, weights=text_fewshot.WEIGHTS, class_names=CLASSES,
        key=key, text_only=text_only, validation_name="g",
    )  # fmt: skip
    assert [r.method for r in (mixed, examples, text_row)] == ["text_fewshot", "prototype", "zeroshot"]
    assert {r.gallery for r in (mixed, examples, text_row)} == {"g[2/class]"}
    assert mixed.predictions.shape == examples.predictions.shape == (3, 21)
    for draw in mixed.selection["per_draw"]:
        assert draw["validation_videos"] == 28 - 14  # the draw's own videos never choose its weight
        assert draw["weight"] in text_fewshot.WEIGHTS
    # examples only is the nearest cosine prototype of the same nested draws
    for seed in range(3):
        index = method_rows.sample_per_class(pool.labels, 2, seed)
        want = probes.prototype_predict(pool.vectors[index], pool.labels[index], queries.vectors,
                                                 metric="cosine", num_classes=7)  # fmt: skip
        np.testing.assert_array_equal(examples.predictions[seed], want)
    np.testing.assert_array_equal(text_row.predictions[0], text_only)
    with pytest.raises(ValueError, match="every video of the validation split is in the gallery draw"):
        text_fewshot.rows(pool, queries, pool, text, shots=method_rows.ALL, num_seeds=1, weights=(0.0, 1.0),
                          class_names=CLASSES, key=key, text_only=text_only, validation_name="g")  # fmt: skip


def test_a_typo_in_a_prompt_file_stops_the_run_before_embedding(toy_data_dir, tmp_path):
    from gesture_jax import config_lib
    from gesture_jax.modes import prompt_zeroshot

    typo = _write(tmp_path / "typo.txt", "".join(f"{c}: {c}\n" for c in CLASSES) + "Hlat: a raised hand\n")
    config = config_lib.load_file("configs/zeroshot/demo.py:smoke")
    with config.unlocked():
        config.data.data_dir = toy_data_dir
        config.zeroshot.vocab_path = str(VOCAB)
        config.zeroshot.prompt_files = (typo,)
    with pytest.raises(
        ValueError, match=r"typo.txt, line 8: 'Hlat' is not a class here \(did you mean 'Halt'"
    ):
        prompt_zeroshot.run(config, str(tmp_path / "run"))


@pytest.mark.slow
def test_demo_with_a_prompt_file_end_to_end(toy_data_dir, tmp_path):
    mine = _write(
        tmp_path / "mine.txt",
        "templates: a video of {} | someone doing {}\n"
        + "".join(f"{c}: {prompts.spaced(c)} | the {c} signal\n" for c in CLASSES),
    )
    workdir = tmp_path / "run"
    result = run_main(
        "configs/zeroshot/demo.py:smoke",
        workdir,
        f"--config.data.data_dir={toy_data_dir}",
        f"--config.zeroshot.vocab_path={VOCAB}",
        f"--config.zeroshot.prompt_files=('{mine}',)",
        "--config.zeroshot.prompt_sets=('names', 'names_templates')",
        "--config.zeroshot.fewshot.prompt_set=mine",
        devices=1,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    body = json.loads((workdir / "results.json").read_text())
    rows = body["rows"]
    ensembles = [r for r in rows if r["method"] == "zeroshot" and "prompt" not in r and "shots" not in r]
    assert (
        [r["prompt_set"] for r in ensembles]
        == [r["gallery"] for r in ensembles]
        == ["names", "names_templates", "mine"]
    )
    for row in ensembles:
        assert row["queries"] == "toy_gestures/real_small:test" and row["num_queries"] == 21
        assert row["metric"] == "zeroshot" and row["scale"] == 100.0 and "k" not in row
        assert 0.0 <= row["accuracy"] <= 1.0 and sum(map(sum, row["confusion"])) == 21
        assert len(row["accuracy_ci95"]) == 2
    table = (workdir / "results.md").read_text()
    assert "| toy-viclip (frozen) · zero-shot |" in table and "prompt set `mine`" in table
    assert (
        "Halt: a video of halt | someone doing halt | a video of the Halt signal"
        in (workdir / "log.txt").read_text()
    )
    singles = [r for r in rows if r.get("prompt_set") == "mine" and "prompt" in r]
    assert len(singles) == 4 and all(r["roles"] == ["sweep"] for r in singles)
    spread = {e["prompt_set"]: e for e in body["prompt_spread"]}
    assert spread["mine"]["num_prompts"] == 4 and spread["names"]["num_prompts"] == 1
    accs = [p["accuracy"] for p in spread["mine"]["prompts"]]
    assert spread["mine"]["min"] == min(accs) and spread["mine"]["max"] == max(accs)
    assert set(spread["mine"]["per_class"]) == set(CLASSES)
    assert (workdir / "prompt_spread.png").stat().st_size > 10_000
    assert "Prompt lab" in (workdir / "results.md").read_text()
    # text + examples beside text only and examples only, at every shot count and gallery
    few = {(r["method"], r["gallery"]) for r in rows if "shots" in r}
    for gallery in ("toy_gestures/synthetic_small:train", "toy_gestures/real_small:train"):
        for shots in (1, 2):
            for method in ("text_fewshot", "prototype", "zeroshot"):
                assert (method, f"{gallery}[{shots}/class]") in few
    chosen = [r for r in rows if r["method"] == "text_fewshot"]
    assert all(r["selection"]["on"] in ("toy_gestures/synthetic_small:val", "toy_gestures/real_small:train")
               for r in chosen)  # fmt: skip
    assert len(list((workdir / "features" / "text").glob("*.npz"))) == 3  # one per prompt set
    # zero-shot and text + examples share one text side per encoder state: embedded once, never re-read
    assert "prompts: cached at" not in (workdir / "log.txt").read_text()


@pytest.mark.slow
@pytest.mark.uses_mode("zeroshot")
def test_demo_writes_a_predictions_file_for_every_row(mode_runs):
    """The zero-shot case of the mode kit (tests/mode_cases.py): per prompt set its ensemble, per set of
    several prompts each single one (6 + 6), and per few-shot gallery and shot count text + examples,
    examples only and text only (2 × 2 × 3)."""
    run = mode_runs.reference("zeroshot")
    assert len(list(Path(run.workdir).glob("predictions_*.csv"))) == len(run.rows) == 5 + 12 + 12


def test_the_spread_reads_the_ensemble_row_not_a_text_only_row():
    """Text + examples' "text only" row scores the same texts over gallery draws (its per-class means
    can differ in the last bit); the spread's ensemble column is the prompt set's own row."""
    labels = np.array([0, 0, 1, 1, 2, 2])

    def row(predictions, gallery, **settings):
        key = scoring.RowKey(
            "zeroshot", "e", "frozen", gallery, "q", prompt_set="s", metric="zeroshot", **settings
        )
        return scoring.score(key, labels, predictions, list("abcdef"), ("x", "y", "z"))

    ensemble = row(np.array([0, 1, 1, 1, 2, 0]), gallery="s")
    singles = [row(np.array([0, 0, 1, 1, 2, 2]), gallery="s [1]", prompt="1"),
               row(np.array([1, 1, 1, 1, 2, 2]), gallery="s [2]", prompt="2")]  # fmt: skip
    text_only = row(np.array([[0, 0, 1, 1, 2, 2]] * 3), gallery="g", shots=1)  # over 3 draws, all right
    (entry,) = prompt_lab.spread([ensemble, *singles, text_only])
    assert entry.ensemble_accuracy == ensemble.metrics["accuracy"] == 4 / 6
    assert entry.per_class["x"].ensemble == 0.5
