"""Result rows (scoring.score), the report's files and sections, and rows that `write` leaves unchanged."""

import copy
import csv
import dataclasses
import json
import os

import numpy as np

from gesture_jax.analysis import stats
from gesture_jax.evaluation import breakdowns, cells, headline, paired_comparisons, report, scoring

NAMES = ("a", "b", "c")


def _row(labels, preds, *, gallery="g", encoder="e", experiment="", **settings):
    ids = [f"v{i}" for i in range(len(labels))]
    key = scoring.RowKey("knn", encoder, "frozen", gallery, "real:test", experiment, **settings)
    return scoring.score(key, np.array(labels), np.array(preds), ids, NAMES)


def test_row_metrics_and_intervals():
    labels, preds = [0, 0, 0, 1, 2, 2], [0, 0, 1, 1, 0, 2]
    m = _row(labels, preds, k=3, metric="l2").metrics
    assert m["accuracy"] == 4 / 6
    assert np.isclose(m["mean_class_accuracy"], (2 / 3 + 1 + 1 / 2) / 3)
    assert m["per_class_accuracy"] == {"a": 2 / 3, "b": 1.0, "c": 0.5}
    assert m["confusion"] == [[2, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert m["num_queries"] == 6 and m["ci_strata"] == "class"
    correct = np.array(labels) == np.array(preds)
    # The interval is the stats contract's on the row's own per-video outcomes, stratified by class.
    assert m["accuracy_ci95"] == list(stats.bootstrap_ci(correct, strata=np.array(labels)))
    w = stats.mean_class_weights(np.array(labels))
    assert m["mean_class_accuracy_ci95"] == list(stats.bootstrap_ci(correct * w, strata=np.array(labels)))
    assert m["accuracy_ci95"][0] <= m["accuracy"] <= m["accuracy_ci95"][1]


def test_absent_classes_are_left_out_of_the_mean():
    m = _row([0, 0], [0, 1]).metrics
    assert m["mean_class_accuracy"] == 0.5 and m["per_class_accuracy"]["c"] is None


def test_draw_rows_average_the_draws():
    key = scoring.RowKey("knn", "e", "frozen", "g", "q")
    row = scoring.score(key, np.array([0, 1]), np.array([[0, 1], [0, 0]]), ["x", "y"], ("a", "b"))
    m = row.metrics
    assert m["accuracy"] == 0.75 and m["accuracy_std"] == 0.25 and m["num_seeds"] == 2
    assert m["confusion"] == [[2, 0], [1, 1]] and m["per_class_accuracy"] == {"a": 1.0, "b": 0.5}
    assert m["ci_resampling"] == "gallery draws and queries"


def test_write_files_leaves_rows_unchanged(tmp_path):
    rows = [
        _row([0, 1, 2], [0, 1, p], encoder=enc, gallery=g, k=3, metric="l2")
        for enc, p in (("enc1", 2), ("enc2", 0))
        for g in ("syn:train", "real:train")
    ]
    before = copy.deepcopy([(r.settings, r.metrics, r.predictions.tolist()) for r in rows])
    results = report.Results("T", rows, paired_comparisons.comparisons(rows, report.table_label))
    report.write(str(tmp_path), results)
    assert before == [(r.settings, r.metrics, r.predictions.tolist()) for r in rows]
    saved = json.load(open(tmp_path / "results.json"))
    assert len(saved["rows"]) == 4 and all(
        os.path.exists(tmp_path / r["confusion_png"]) for r in saved["rows"]
    )
    assert len({r["id"] for r in saved["rows"]}) == 4
    for r in saved["rows"]:
        assert {"id", "method", "accuracy_ci95", "mean_class_accuracy_ci95", "ci_strata"} <= set(r)
        lines = list(csv.DictReader(open(tmp_path / r["predictions_csv"])))
        assert [line["id"] for line in lines] == ["v0", "v1", "v2"]
    # Pairs in one table row (same encoder, two galleries) and one column (two encoders, one gallery).
    pairs = {(c["a"], c["b"]) for c in saved["comparisons"]}
    assert len(pairs) == 4
    md = (tmp_path / "results.md").read_text()
    assert "| encoder · method | gallery `syn:train` | gallery `real:train` |" in md
    # Every video right: the bootstrap cannot vary, so the exact binomial interval of 3 of 3 is shown, marked.
    assert "| enc1 (frozen) · KNN k=3, l2 | 100.0 [29.2–100.0]† | 100.0 [29.2–100.0]† |" in md
    assert md.count(cells.DEGENERATE_NOTE) >= 1 and "100.0 [100.0–100.0]" not in md
    assert "## Paired comparisons" in md and "## All rows" in md


def test_comparisons_carry_the_exact_mcnemar_p():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 60)
    a = _row(
        labels, np.where(rng.random(60) < 0.7, labels, (labels + 1) % 3), gallery="syn", k=3, metric="l2"
    )
    b = _row(
        labels, np.where(rng.random(60) < 0.4, labels, (labels + 1) % 3), gallery="real", k=3, metric="l2"
    )
    (c,) = paired_comparisons.comparisons([a, b], report.table_label)
    assert c["a"] == a.id and c["b"] == b.id
    assert np.isclose(c["difference"], a.correct.mean() - b.correct.mean())
    assert c["mcnemar_p"] == stats.mcnemar_exact(a.correct, b.correct)
    assert c["ci95"] == list(stats.paired_bootstrap_ci(a.correct, b.correct, strata=labels))


def test_a_comparison_across_encoder_states_names_them():
    labels = np.array([0, 1, 2, 0, 1, 2])
    frozen = _row(labels, [0, 1, 1, 0, 2, 2], gallery="syn", k=3, metric="l2")
    tuned = _row(labels, labels, gallery="syn", k=3, metric="l2").with_key(encoder_state="tuned")
    results = report.Results(
        "t", [frozen, tuned], paired_comparisons.comparisons([frozen, tuned], report.table_label)
    )
    line = next(x for x in report.markdown(results).splitlines() if x.startswith("| `real:test` |"))
    assert "e (frozen) · KNN k=3, l2, `syn`" in line and "e (tuned) · KNN k=3, l2, `syn`" in line


def test_rows_on_other_queries_are_not_compared():
    a = _row([0, 1], [0, 1], gallery="syn")
    b = dataclasses_replace(_row([0, 1], [0, 0], gallery="real"), ids=np.array(["p", "q"]))
    assert paired_comparisons.comparisons([a, b], report.table_label) == []


def dataclasses_replace(row, **changes):
    return dataclasses.replace(row, **changes)


def test_reported_numbers_sit_beside_the_protocol_row():
    rows = [
        dataclasses_replace(
            _row([0, 1], [0, p], gallery=g, experiment="paper_row", k=3, metric="l2"), roles=("protocol",)
        )
        for g, p in (("syn:train", 0), ("real:train", 1))
    ]
    results = report.Results(
        "T", rows, reported={"paper_row": {"syn:train": 18.2}}, reported_source="a summary"
    )
    md = report.markdown(results)
    assert "| encoder · method | gallery `syn:train` | reported | gallery `real:train` |" in md
    assert (
        "| paper_row · KNN k=3, l2 (paper's protocol) | 50.0 [1.3–98.7]† | *18.2* | 100.0 [15.8–100.0]† |"
        in md
    )
    assert "*Reported* values: a summary." in md


def test_breakdowns_count_and_interval_each_group():
    row = _row([0, 1, 2, 0], [0, 1, 0, 1])
    out = breakdowns.breakdowns(row, {"subject": np.array(["S1", "S1", "S2", "S2"])})
    assert [(c["value"], c["count"], c["accuracy"]) for c in out["subject"]] == [
        ("S1", 2, 1.0),
        ("S2", 2, 0.0),
    ]
    assert out["subject"][0]["ci95"] == [1.0, 1.0]


def test_the_headline_states_the_focus_comparison_and_the_best_per_gallery():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 90)
    syn = _row(labels, np.where(rng.random(90) < 0.8, labels, (labels + 1) % 3), gallery="syn:train", k=3,
               metric="l2")  # fmt: skip
    real = _row(labels, np.where(rng.random(90) < 0.3, labels, (labels + 1) % 3), gallery="real:train", k=3,
                metric="l2")  # fmt: skip
    compared = paired_comparisons.comparisons([syn, real], report.table_label)
    text = headline.section([syn, real], compared, [(syn.id, real.id)])
    (c,) = compared
    lo, hi = c["ci95"]
    assert lo > 0 and text.startswith("## Headline\n")
    assert (
        f"- `syn:train` − `real:train` (frozen e; KNN k=3, l2) on `real:test`: "
        f"**{100 * c['difference']:+.1f} points** [{100 * lo:+.1f}, {100 * hi:+.1f}], McNemar p "
        f"{c['mcnemar_p']:.3g}; the interval excludes 0: `syn:train` is better on these videos."
    ) in text
    assert "Best per column" not in text  # a column of one row has no best to name
    # A lead is given by the two rows' paired difference, and not claimed when its interval holds 0.
    worse = _row(labels, np.where(np.arange(90) == 0, (labels + 1) % 3, labels), gallery="syn:train", k=5,
                 metric="l2")  # fmt: skip
    best = _row(labels, labels, gallery="syn:train", k=7, metric="l2")
    text = headline.section([worse, best], [], [])
    assert text.startswith("## Headline\n\nBest per column on `real:test` (90 videos):\n")
    assert (
        "| gallery `syn:train` | KNN k=7, l2 | 100.0 [96.0–100.0]† | +1.1 [+0.0, +3.3] points over KNN k=5, "
        "l2, not established |"
    ) in text
    assert headline.section([], [], []) == ""


def test_labels_tell_rows_apart_and_columns_say_what_they_score_against():
    labels = np.array([0, 1, 2, 0, 1, 2])
    frozen = _row(labels, [0, 1, 1, 0, 2, 2], gallery="syn", k=3, metric="l2")
    tuned = frozen.with_key(encoder_state="fine-tuned")
    # With one state in the report, the short label; with two, the state is named in every label.
    assert report.pair_label(frozen, [frozen]) == "KNN k=3, l2, `syn`"
    assert report.pair_label(frozen, [frozen, tuned]) == "e (frozen) · KNN k=3, l2, `syn`"
    head = frozen.with_key(method="head", gallery="classifier head", k=None, metric="head")
    prompts = frozen.with_key(method="zeroshot", gallery="names", prompt_set="names", k=None)
    assert report.column_label([head]) == "classifier head"
    assert report.column_label([prompts]) == "prompt set `names`"
    assert report.column_label([frozen]) == "gallery `syn`"


def test_breakdown_columns_with_their_own_counts_show_them():
    row = _row([0, 1, 2, 0], [0, 1, 0, 1])
    a = dataclasses_replace(row, breakdowns={"nearest": [{"value": "x", "count": 3, "accuracy": 2 / 3,
                                                          "ci95": [0.0, 1.0]}]})  # fmt: skip
    b = dataclasses_replace(row.with_key(gallery="real"), breakdowns={
        "nearest": [{"value": "x", "count": 1, "accuracy": 1.0, "ci95": [1.0, 1.0]}]})  # fmt: skip
    md = report.breakdowns_section(report.Results("t", [a, b]))
    assert "| x | per cell | 66.7 [0.0–100.0] (n=3) | 100.0 [2.5–100.0]† (n=1) |" in md
