"""Few-shot galleries and the curves mode (real n-shot, synthetic + real, synthetic alone)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from gesture_jax.evaluation import cells, method_rows, report
from gesture_jax.modes import curves  # its REAL_EQUIVALENT_JSON


def test_sample_per_class_counts_and_reproducibility():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 6)
    picked = method_rows.sample_per_class(labels, 4, seed=0)
    assert np.bincount(labels[picked]).tolist() == [4, 3, 4]  # class 1 has only 3: all of them
    assert (np.diff(picked) > 0).all()
    np.testing.assert_array_equal(picked, method_rows.sample_per_class(labels, 4, seed=0))
    assert not np.array_equal(picked, method_rows.sample_per_class(labels, 4, seed=1))
    np.testing.assert_array_equal(
        method_rows.sample_per_class(labels, method_rows.ALL, seed=3), np.arange(len(labels))
    )


def test_draws_are_nested():
    """Each seed's smaller gallery is contained in its larger one, class by class."""
    labels = np.random.default_rng(0).integers(0, 5, 300)
    for seed in range(4):
        previous = set()
        for shots in (1, 2, 4, 8, 16, method_rows.ALL):
            picked = set(method_rows.sample_per_class(labels, shots, seed).tolist())
            assert previous <= picked, (seed, shots)
            previous = picked
    assert not np.array_equal(
        method_rows.sample_per_class(labels, 8, 0), method_rows.sample_per_class(labels, 8, 1)
    )


@pytest.mark.slow
@pytest.mark.uses_mode("curves")
def test_curves_mode(mode_runs):
    run = mode_runs.reference("curves")  # the curves case of the mode kit (tests/mode_cases.py)
    config, tmp_path = run.config, Path(run.workdir)
    rows = [report.row_json(r) for r in run.rows]
    shots = config.curves.shots
    assert len(rows) == 1 + 2 * len(shots)
    by_key = {(r["curve"], r["shots"]): r for r in rows}
    assert by_key[("synthetic", None)]["num_gallery"] == 42
    assert by_key[("real", 1)]["num_gallery"] == 7 and by_key[("real", 1)]["num_seeds"] == 2
    assert by_key[("synthetic+real", 0)]["num_gallery"] == 42 + 21 and by_key[("real", 0)]["num_seeds"] == 1
    assert all(r["num_queries"] == 21 for r in rows)
    saved = json.load(open(tmp_path / "results.json"))["rows"]
    assert [r["gallery"] for r in saved] == [r["gallery"] for r in rows]
    text = (tmp_path / "results.md").read_text()
    assert (
        "| real videos per class (`toy_gestures/real_small:train`) | real only | synthetic + real |" in text
    )
    assert "| all |" in text and "## All rows" in text
    syn = by_key[("synthetic", None)]
    assert (
        f"| 0 (synthetic only) | – | "
        f"{cells.percent(syn['accuracy'], syn['accuracy_ci95'], syn['num_queries'])} |" in text
    )
    for r in rows:  # means with intervals over draws and queries
        assert r["accuracy_ci95"][0] <= r["accuracy"] <= r["accuracy_ci95"][1]
    assert by_key[("real", 1)]["ci_resampling"] == "gallery draws and queries"
    assert os.path.getsize(tmp_path / "curves_toy_gestures-real_small-test.png") > 1000
    # The synthetic gallery's real-video equivalent, read off the real-only curve as a reader would.
    from gesture_jax.analysis import real_equivalent

    (equivalent,) = json.load(open(tmp_path / curves.REAL_EQUIVALENT_JSON)).values()
    xs = [p["real_videos_per_class"] for p in equivalent["curve"]]
    assert xs == [1.0, 2.0, 3.0]  # the smoke shots (1, 2, all): `all` is the 3 real train videos per class
    accuracy = [by_key[("real", s)]["accuracy"] for s in (1, 2, 0)]
    assert [p["accuracy"] for p in equivalent["curve"]] == pytest.approx(accuracy)
    synthetic = by_key[("synthetic", None)]["accuracy"]
    assert equivalent["real_videos_per_class"] == real_equivalent.crossing(xs, accuracy, synthetic)[0]
    assert equivalent["ci95"][0] <= equivalent["ci95"][1] and "Real-video equivalent" in text
