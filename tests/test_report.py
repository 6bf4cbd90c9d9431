"""Results rows, the paper-shaped markdown table and the confusion-matrix plots."""

import json
import os

import numpy as np

from gesture_jax import report

NAMES = ("a", "b", "c")


def test_row_metrics():
    labels = np.array([0, 0, 0, 1, 2, 2])
    preds = np.array([0, 0, 1, 1, 0, 2])
    row = report.classification_row(
        labels, preds, NAMES, encoder="e", gallery="g", queries="q", k=3, metric="l2"
    )
    assert row["accuracy"] == 4 / 6
    assert np.isclose(row["mean_class_accuracy"], (2 / 3 + 1 + 1 / 2) / 3)
    assert row["per_class_accuracy"] == {"a": 2 / 3, "b": 1.0, "c": 0.5}
    assert row["confusion"] == [[2, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert row["num_queries"] == 6


def test_absent_classes_are_left_out_of_the_mean():
    row = report.classification_row(
        np.array([0, 0]), np.array([0, 1]), NAMES, encoder="e", gallery="g", queries="q"
    )
    assert row["mean_class_accuracy"] == 0.5 and row["per_class_accuracy"]["c"] is None


def test_write_files_and_table_shape(tmp_path):
    rows = [
        report.classification_row(
            np.array([0, 1, 2]),
            np.array([0, 1, p]),
            NAMES,
            encoder=enc,
            encoder_state="frozen",
            gallery=g,
            queries="real:test",
            k=3,
            metric="l2",
        )
        for enc, p in (("enc1", 2), ("enc2", 0))
        for g in ("syn:train", "real:train")
    ]
    report.write(str(tmp_path), rows)
    saved = json.load(open(tmp_path / "results.json"))["rows"]
    assert len(saved) == 4 and all(os.path.exists(tmp_path / r["confusion_png"]) for r in saved)
    assert len({r["confusion_png"] for r in saved}) == 4
    md = (tmp_path / "results.md").read_text()
    assert "| encoder | gallery `syn:train` | gallery `real:train` |" in md
    assert "| enc1 (frozen) | 100.0 | 100.0 |" in md and "| enc2 (frozen) | 66.7 | 66.7 |" in md


def test_reported_numbers_sit_beside_ours():
    rows = [
        {
            **report.classification_row(
                np.array([0, 1]),
                np.array([0, p]),
                NAMES,
                encoder="e",
                gallery=g,
                queries="real:test",
                k=3,
                metric="l2",
            ),
            "row": "paper_row",
        }
        for g, p in (("syn:train", 0), ("real:train", 1))
    ]
    md = report.markdown(rows, reported={"paper_row": {"syn:train": 18.2}}, reported_source="a summary")
    assert "| encoder | gallery `syn:train` | reported | gallery `real:train` |" in md
    assert "| paper_row | 50.0 | *18.2* | 100.0 |" in md
    assert "*Reported* values: a summary." in md
