"""gesture_jax.analysis.stats against scipy, simple analytic cases, and a coverage simulation."""

import math
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats as scipy_stats

from gesture_jax.analysis import stats


def _bernoulli(n, p, seed):
    return np.random.default_rng(seed).random(n) < p


def test_bootstrap_ci_matches_scipy():
    correct = _bernoulli(200, 0.6, seed=1)
    lo, hi = stats.bootstrap_ci(correct, num_resamples=10_000, seed=3)
    ref = scipy_stats.bootstrap(
        (correct.astype(float),), np.mean, method="percentile", n_resamples=10_000, rng=7
    ).confidence_interval
    assert abs(lo - ref.low) < 0.01 and abs(hi - ref.high) < 0.01
    assert lo < correct.mean() < hi
    # Real-valued scores work too.
    scores = np.random.default_rng(2).normal(size=300)
    lo, hi = stats.bootstrap_ci(scores, level=0.9, num_resamples=10_000)
    ref = scipy_stats.bootstrap(
        (scores,), np.mean, method="percentile", n_resamples=10_000, confidence_level=0.9, rng=7
    ).confidence_interval
    assert abs(lo - ref.low) < 0.01 and abs(hi - ref.high) < 0.01


def test_bootstrap_ci_coverage():
    p, hits = 0.4, 0
    for i in range(200):
        lo, hi = stats.bootstrap_ci(_bernoulli(100, p, seed=100 + i), num_resamples=1000, seed=i)
        hits += lo <= p <= hi
    assert 0.90 <= hits / 200 <= 0.99


def test_stratified_keeps_stratum_sizes():
    # One stratum all right, one all wrong, interleaved labels: every stratified resample has the same mean.
    labels = np.array(["b", "a"] * 30 + ["b"] * 15)
    correct = labels == "b"
    lo, hi = stats.bootstrap_ci(correct, strata=labels, num_resamples=2000)
    assert lo == hi == correct.mean()
    lo, hi = stats.bootstrap_ci(correct, num_resamples=2000)
    assert lo < correct.mean() < hi


def test_stratified_width_matches_analytic():
    # Strata of 500 at 20% and 80% accuracy: the stratified SE is sqrt(sum (n_s/n)^2 p_s(1-p_s)/n_s).
    labels = np.repeat([0, 1], 500)
    correct = np.concatenate([np.arange(500) < 100, np.arange(500) < 400])
    se = np.sqrt(2 * 0.5**2 * 0.16 / 500)
    lo, hi = stats.bootstrap_ci(correct, strata=labels)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.05)
    lo, hi = stats.bootstrap_ci(correct)
    assert hi - lo == pytest.approx(2 * 1.96 * np.sqrt(0.25 / 1000), rel=0.05)
    # A single stratum is the unstratified bootstrap.
    assert stats.bootstrap_ci(correct, strata=np.zeros(1000)) == (lo, hi)


def test_paired():
    rng = np.random.default_rng(4)
    a = rng.random(400) < 0.7
    b = np.where(rng.random(400) < 0.05, ~a, a)  # b agrees with a on ~95% of items
    labels = rng.integers(0, 5, 400)
    for strata in (None, labels):
        paired = stats.paired_bootstrap_ci(a, b, seed=5, strata=strata)
        assert paired == stats.bootstrap_ci(a.astype(float) - b.astype(float), seed=5, strata=strata)
    lo, hi = stats.paired_bootstrap_ci(a, b)
    assert lo <= a.mean() - b.mean() <= hi
    unpaired = scipy_stats.bootstrap(
        (a.astype(float), b.astype(float)),
        lambda x, y, axis: x.mean(axis) - y.mean(axis),
        paired=False,
        method="percentile",
        n_resamples=5000,
        rng=0,
    ).confidence_interval
    assert hi - lo < 0.5 * (unpaired.high - unpaired.low)


def test_mcnemar_matches_binomtest():
    rng = np.random.default_rng(6)
    for _ in range(200):
        n, p_flip = rng.integers(1, 60), rng.random()
        a = rng.random(n) < 0.6
        b = np.where(rng.random(n) < p_flip, rng.random(n) < 0.5, a)
        n01, n10 = int(np.sum(a & ~b)), int(np.sum(~a & b))
        expected = 1.0 if n01 + n10 == 0 else scipy_stats.binomtest(min(n01, n10), n01 + n10, 0.5).pvalue
        assert stats.mcnemar_exact(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_mcnemar_is_the_exact_binomial_tail_at_any_size():
    """Integer arithmetic, one rounding: equal to the exact rational value, and to scipy's float tail
    within its own rounding, up to tens of thousands of discordant items."""
    for n in (1, 2, 7, 40, 41, 300, 2001, 40_000):
        for k in sorted({0, n // 7, n // 3, n // 2 - n // 50, n // 2}):
            p = stats._twice_binomial_half_cdf(k, n)
            if n <= 2001:
                exact = min(Fraction(1), 2 * Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2**n))
                assert p == float(exact), (k, n)
            assert p == pytest.approx(min(1.0, 2 * scipy_stats.binom.cdf(k, n, 0.5)), rel=1e-11), (k, n)


def test_mcnemar_hand_cases():
    a = np.array([1, 1, 1, 1, 1, 0, 1])
    b = np.array([0, 0, 0, 0, 0, 0, 1])
    assert stats.mcnemar_exact(a, b) == pytest.approx(0.0625)  # n01=5, n10=0: 2 / 2**5
    assert stats.mcnemar_exact(b, a) == pytest.approx(0.0625)
    assert stats.mcnemar_exact(a, a) == 1.0
    assert stats.mcnemar_exact([True, False], [False, True]) == 1.0  # n01 = n10 = 1: min(1, 2 * 3/4)
    assert isinstance(stats.mcnemar_exact(a, b), float)


def test_determinism_and_chunking(monkeypatch):
    correct = _bernoulli(150, 0.5, seed=8)
    labels = np.random.default_rng(9).integers(0, 4, 150)
    grid = np.random.default_rng(10).random((3, 150)) < 0.5
    first = stats.bootstrap_ci(correct, strata=labels, num_resamples=500, seed=1)
    assert first == stats.bootstrap_ci(correct, strata=labels, num_resamples=500, seed=1)
    other = stats.bootstrap_ci(correct, strata=labels, num_resamples=500, seed=2)
    assert other != first and np.allclose(other, first, atol=0.03)
    assert all(isinstance(x, float) for x in first)
    grid_first = stats.bootstrap_ci_2d(grid, strata=labels, num_resamples=500, seed=1)
    for chunk in (1, 151, 7 * 150 + 3, 10**9):  # one resample per chunk ... all at once
        monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", chunk)
        assert stats.bootstrap_ci(correct, strata=labels, num_resamples=500, seed=1) == first
        assert stats.bootstrap_ci_2d(grid, strata=labels, num_resamples=500, seed=1) == grid_first


def test_memory_is_chunked(monkeypatch):
    correct = _bernoulli(100_000, 0.5, seed=11)
    monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 100_000)  # one resample (800 kB of draws) per chunk
    tracemalloc.start()
    try:
        stats.bootstrap_ci(correct, num_resamples=100)  # materialised at once: 80 MB per array
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        stats.bootstrap_ci(np.array([], bool))
    with pytest.raises(ValueError, match="3.*4"):
        stats.bootstrap_ci(np.ones(4), strata=np.ones(3))
    with pytest.raises(ValueError, match="5.*4"):
        stats.paired_bootstrap_ci(np.ones(5), np.ones(4))
    with pytest.raises(ValueError, match="5.*4"):
        stats.mcnemar_exact(np.ones(5), np.ones(4))
    with pytest.raises(ValueError, match="0/1"):
        stats.mcnemar_exact(np.array([0.5, 1]), np.array([1, 1]))
    for level in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="level"):
            stats.bootstrap_ci(np.ones(4), level=level)
        with pytest.raises(ValueError, match="level"):
            stats.bootstrap_ci_2d(np.ones((2, 4)), level=level)
    with pytest.raises(ValueError, match="1-D"):
        stats.bootstrap_ci(np.ones((2, 4)))
    with pytest.raises(ValueError, match="2-D"):
        stats.bootstrap_ci_2d(np.ones(4))
    with pytest.raises(ValueError, match="empty"):
        stats.bootstrap_ci_2d(np.ones((2, 0)))
    with pytest.raises(ValueError, match="num_resamples"):
        stats.bootstrap_ci(np.ones(4), num_resamples=0)
    with pytest.raises(ValueError, match="empty"):
        stats.mean_class_weights([])


def test_mean_class_weights():
    rng = np.random.default_rng(12)
    labels = rng.choice([3, 7, 7, 7, 9, 9], size=500)  # unbalanced classes, non-contiguous ids
    correct = rng.random(500) < np.where(labels == 3, 0.2, 0.8)
    w = stats.mean_class_weights(labels)
    per_class = [correct[labels == c].mean() for c in np.unique(labels)]
    assert np.mean(correct * w) == pytest.approx(np.mean(per_class))
    assert np.mean(w) == pytest.approx(1.0)
    lo, hi = stats.bootstrap_ci(correct * w, strata=labels)
    assert lo < np.mean(per_class) < hi


def test_bootstrap_ci_2d():
    rng = np.random.default_rng(13)
    row = rng.random(300) < 0.6
    agree = np.tile(row, (5, 1))
    # Same overall items, but the five gallery draws range from 40% to 80% accuracy.
    disagree = np.stack([rng.random(300) < p for p in (0.4, 0.5, 0.6, 0.7, 0.8)])
    lo_a, hi_a = stats.bootstrap_ci_2d(agree)
    lo_d, hi_d = stats.bootstrap_ci_2d(disagree)
    assert lo_a < agree.mean() < hi_a and lo_d < disagree.mean() < hi_d
    assert hi_d - lo_d > 1.5 * (hi_a - lo_a)
    # Seeds that agree add nothing: close to the 1-D interval of one row.
    assert np.allclose((lo_a, hi_a), stats.bootstrap_ci(row), atol=0.01)
    # One seed: exactly the 1-D bootstrap (no seed is drawn).
    labels = rng.integers(0, 3, 300)
    assert stats.bootstrap_ci_2d(row[None], seed=4, strata=labels) == stats.bootstrap_ci(
        row, seed=4, strata=labels
    )


def test_bootstrap_ci_2d_matches_naive_loop():
    rng = np.random.default_rng(14)
    grid = rng.random((4, 100)) < np.array([0.3, 0.5, 0.6, 0.9])[:, None]
    means = []
    for _ in range(4000):
        seeds, queries = rng.integers(0, 4, 4), rng.integers(0, 100, 100)
        means.append(grid[seeds][:, queries].mean())
    ref = np.quantile(means, [0.025, 0.975])
    assert np.allclose(stats.bootstrap_ci_2d(grid, num_resamples=4000), ref, atol=0.02)


def test_strata_given_as_names_or_indices_give_the_same_interval():
    """A reader recomputing an interval from a predictions CSV has class names, not indices."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 80)
    correct = rng.random(80) < 0.6
    names = np.array(["Rally", "Halt", "Advance", "Attention"])[labels]  # sorted order differs from indices
    assert stats.bootstrap_ci(correct, strata=labels) == stats.bootstrap_ci(correct, strata=names)


def test_holm_adjustment():
    """Holm (1979) by hand: sorted p 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 → 0.02, 0.03, 0.06, 0.04,
    made monotone → 0.02, 0.03, 0.06, 0.06; returned in the input's order."""
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    assert stats.holm([0.2]).tolist() == [0.2]
    with pytest.raises(ValueError, match="must lie in"):
        stats.holm([0.1, 1.5])
