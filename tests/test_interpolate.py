"""WiSE-FT weight interpolation and the base-to-novel summary: exact endpoints, the midpoint, structure
checks, inputs left as they were; the harmonic mean and its interval."""

import dataclasses

import jax
import numpy as np
import pytest
from flax import nnx

from gesture_jax import models
from gesture_jax.analysis import stats
from gesture_jax.evaluation import base_novel, scoring
from gesture_jax.train import interpolate, supervised


def _pair():
    frozen, _ = models.create("toy-vit", seed=0)
    tuned, _ = models.create("toy-vit", seed=1)  # other weights, same structure
    return frozen, tuned


def test_endpoints_are_exact_and_the_midpoint_is_the_mean():
    frozen, tuned = _pair()
    a, b = supervised.encoder_params(frozen), supervised.encoder_params(tuned)
    before = {k: v.copy() for k, v in b.items()}
    for alpha, expected in ((0.0, a), (1.0, b)):
        got = supervised.encoder_params(interpolate.interpolate(frozen, tuned, alpha))
        assert got.keys() == a.keys()
        for k in got:
            np.testing.assert_array_equal(got[k], expected[k], err_msg=k)
    mid = supervised.encoder_params(interpolate.interpolate(frozen, tuned, 0.25))
    for k in mid:
        np.testing.assert_allclose(mid[k], 0.75 * a[k] + 0.25 * b[k], rtol=1e-6, atol=1e-7, err_msg=k)
    assert any(not np.array_equal(a[k], b[k]) for k in a)  # the test compares different weights
    for k, v in supervised.encoder_params(tuned).items():  # the fine-tuned weights are not touched
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.slow
def test_interpolated_features_move_between_the_two():
    frozen, tuned = _pair()
    video = jax.random.uniform(jax.random.key(0), (2, *_input_shape(frozen)))
    f0, f1 = np.asarray(frozen.features(video)), np.asarray(tuned.features(video))
    half = np.asarray(interpolate.interpolate(frozen, tuned, 0.5).features(video))
    np.testing.assert_array_equal(np.asarray(interpolate.interpolate(frozen, tuned, 0.0).features(video)), f0)
    assert 0 < np.abs(half - f0).max() and 0 < np.abs(half - f1).max()


def _input_shape(model):
    c = model.config
    return (c.num_frames, c.img_size, c.img_size, 3)


def test_snapshot_outlives_the_original_buffers():
    frozen, tuned = _pair()
    copy = interpolate.snapshot(frozen)
    expected = supervised.encoder_params(frozen)
    for _, v in nnx.to_flat_state(nnx.state(frozen, nnx.Param)):
        v.get_value().delete()  # as training's donation does
    got = supervised.encoder_params(interpolate.interpolate(copy, tuned, 0.0))
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k])


def test_bad_alphas_and_structures_are_errors():
    assert interpolate.check_alphas([0, 0.5, 0.5, 1]) == (0.0, 0.5, 1.0)
    with pytest.raises(ValueError, match=r"finetune.alphas.*1.5"):
        interpolate.check_alphas([0.0, 1.5])
    frozen, _ = models.create("toy-vit", seed=0)
    other, _ = models.create("toy-vit", seed=0, model_overrides={"depth": 1})
    with pytest.raises(ValueError, match="different structure"):
        interpolate.interpolate(frozen, other, 0.5)


def test_harmonic_mean_and_its_interval():
    assert stats.harmonic_mean(0.5, 1.0) == pytest.approx(2 / 3)
    assert stats.harmonic_mean(0.0, 0.0) == 0.0 and stats.harmonic_mean(0.0, 0.9) == 0.0
    rng = np.random.default_rng(0)
    seen, novel = rng.random(60) < 0.8, rng.random(30) < 0.4
    labels_s, labels_n = np.arange(60) % 5, np.arange(30) % 2
    lo, hi = stats.harmonic_mean_ci(seen, novel, strata_seen=labels_s, strata_novel=labels_n)
    point = stats.harmonic_mean(seen.mean(), novel.mean())
    assert lo < point < hi and hi - lo > 0.1
    # deterministic, and exactly the percentile of harmonic means of the two bootstraps
    assert (lo, hi) == stats.harmonic_mean_ci(seen, novel, strata_seen=labels_s, strata_novel=labels_n)
    # the two query sets are resampled independently, each within its classes
    means_s = stats._bootstrap_means(seen[None].astype(float), labels_s, 10_000, 0)
    means_n = stats._bootstrap_means(novel[None].astype(float), labels_n, 10_000, 1)
    hm = 2 * means_s * means_n / (means_s + means_n)
    assert (lo, hi) == pytest.approx(tuple(np.quantile(hm, [0.025, 0.975])))
    assert stats.harmonic_mean_ci(np.ones(8), np.ones(4)) == (1.0, 1.0)  # nothing varies: a point


def _row(subset, state, alpha, correct, classes):
    labels = np.array([classes[i % len(classes)] for i in range(len(correct))])
    wrong = np.array([classes[(classes.index(c) + 1) % len(classes)] for c in labels])
    key = scoring.RowKey("knn", "e", state, "g", f"q ({subset} classes)", k=3, metric="l2", alpha=alpha,
                         class_subset=subset)  # fmt: skip
    row = scoring.score(key, labels, np.where(correct, labels, wrong), [f"v{i}" for i in range(len(labels))],
                        "abcdefg")  # fmt: skip
    return dataclasses.replace(row, query_split="q")  # as the seen_novel evaluator makes them


def test_harmonic_means_pair_seen_and_novel_rows_of_one_state():
    rows = [
        _row("seen", "frozen", 0.0, np.arange(10) < 6, [0, 1, 3, 4, 6]),
        _row("novel", "frozen", 0.0, np.arange(6) < 3, [2, 5]),
        _row("seen", "fine-tuned", 1.0, np.arange(10) < 9, [0, 1, 3, 4, 6]),
        _row("novel", "fine-tuned", 1.0, np.arange(6) < 1, [2, 5]),
        _row("seen", "interpolated", 0.5, np.arange(10) < 8, [0, 1, 3, 4, 6]),  # no novel row: no entry
    ]
    entries = base_novel.harmonic_means(rows)
    assert [(e.encoder_state, e.seen, e.novel) for e in entries] == [
        ("frozen", 0.6, 0.5),
        ("fine-tuned", 0.9, pytest.approx(1 / 6)),
    ]
    assert entries[1].harmonic_mean == pytest.approx(2 * 0.9 / 6 / (0.9 + 1 / 6))
    assert entries[0].queries == "q" and entries[0].seen_row == rows[0].id
    assert "| fine-tuned | 1 |" in base_novel.section(entries, None)
