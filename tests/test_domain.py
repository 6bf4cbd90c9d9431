"""Domain-gap numbers (gesture_jax.analysis.domain) against independent implementations on random data."""

import itertools

import numpy as np
import pytest
import scipy.linalg
from scipy.spatial.distance import cdist, pdist

from gesture_jax.analysis import domain


def _sets(seed=0, n=40, m=35, d=6, shift=0.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(m, d)) + shift


def _mmd2_by_loops(x, y, sigma):
    """Gretton et al.'s unbiased estimator, term by term."""
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2))  # noqa: E731
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    syy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    sxy = sum(k(a, b) for a in x for b in y) / (m * n)
    return sxx + syy - 2 * sxy


@pytest.mark.parametrize("shift", [0.0, 0.7])
def test_mmd2_matches_the_estimator_written_out(shift):
    x, y = _sets(shift=shift)
    sigma = float(np.median(pdist(np.concatenate([x, y]))))  # scipy's distances: the median heuristic
    assert domain.median_bandwidth(x, y) == pytest.approx(sigma, rel=1e-12)
    assert domain.mmd2(x, y) == pytest.approx(_mmd2_by_loops(x, y, sigma), rel=1e-4, abs=1e-12)
    assert domain.mmd2(x, y, bandwidth=2.5) == pytest.approx(_mmd2_by_loops(x, y, 2.5), rel=1e-4, abs=1e-12)


def test_mmd2_test_separates_shifted_sets_and_not_equal_ones():
    same = domain.mmd2_test(*_sets(seed=1), num_permutations=200)
    apart = domain.mmd2_test(*_sets(seed=1, shift=1.0), num_permutations=200)
    assert abs(same["mmd2"]) < 0.05 and same["p_value"] > 0.05
    assert apart["mmd2"] > 0.1 and apart["p_value"] == pytest.approx(1 / 201)
    assert apart["mmd2"] == pytest.approx(domain.mmd2(*_sets(seed=1, shift=1.0)))
    again = domain.mmd2_test(*_sets(seed=1), num_permutations=200)
    assert again == same  # seeded


def _frechet_as_fid_does(x, y):
    """The pytorch-fid formula: scipy's general matrix square root of Σx Σy, real part."""
    mx, my = x.mean(0), y.mean(0)
    cx, cy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(cx @ cy).real
    return float(((mx - my) ** 2).sum() + np.trace(cx + cy - 2 * covmean))


@pytest.mark.parametrize("seed,shift", [(0, 0.0), (1, 0.5), (2, 3.0)])
def test_frechet_matches_the_fid_formula(seed, shift):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    y = rng.normal(size=(150, 5)) @ rng.normal(size=(5, 5)) + shift
    assert domain.frechet_distance(x, y) == pytest.approx(_frechet_as_fid_does(x, y), rel=1e-4)
    assert domain.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_of_gaussians_with_equal_covariance_is_the_mean_shift():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 3))
    y = x + np.array([1.0, -2.0, 0.5])  # same covariance exactly, shifted mean
    assert domain.frechet_distance(x, y) == pytest.approx(1 + 4 + 0.25, rel=1e-9)


def test_proxy_a_distance_is_about_0_for_one_distribution_and_2_for_two_far_apart():
    x, y = _sets(seed=4, n=200, m=200, d=8)
    assert abs(domain.proxy_a_distance(x, y)) < 0.3
    x, y = _sets(seed=4, n=200, m=200, d=8, shift=5.0)
    assert domain.proxy_a_distance(x, y) > 1.95
    assert domain.proxy_a_distance(x, y, seed=1) == domain.proxy_a_distance(x, y, seed=1)


def test_class_gaps():
    x = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [10.0, 12.0]])
    y = np.array([[1.0, 3.0], [1.0, 5.0], [10.0, 11.0]])
    gaps = domain.class_gaps(x, [0, 0, 1, 1], y, [0, 0, 1], ("a", "b", "c"))
    assert [g["class"] for g in gaps] == ["a", "b"]  # c is in neither set
    a, b = gaps
    assert a["centroid_distance"] == pytest.approx(4.0) and a["spread_x"] == 1.0 and a["spread_y"] == 1.0
    assert a["distance_over_spread"] == pytest.approx(4.0)
    assert b["centroid_distance"] == 0.0 and b["count_y"] == 1


def test_neighbour_provenance_against_brute_force():
    rng = np.random.default_rng(5)
    gallery, queries = rng.normal(size=(30, 4)), rng.normal(size=(12, 4))
    labels, query_labels = rng.integers(0, 3, 30), rng.integers(0, 3, 12)
    synthetic = np.arange(30) < 18
    neighbours = np.argsort(cdist(queries, gallery), axis=1)[:, :5]
    out = domain.neighbour_provenance(neighbours, synthetic, labels, query_labels)
    assert out["synthetic_share"] == pytest.approx(synthetic[neighbours].mean())
    same = labels[neighbours] == query_labels[:, None]
    assert out["same_class_share"] == pytest.approx(same.mean())
    assert out["same_class_share_of_synthetic"] == pytest.approx(same[synthetic[neighbours]].mean())
    assert out["same_class_share_of_real"] == pytest.approx(same[~synthetic[neighbours]].mean())
    assert len(out["per_query_synthetic_share"]) == 12 and out["k"] == 5


def test_helpers_and_bad_input():
    assert np.array_equal(domain.subsample(5, 10), np.arange(5))
    picked = domain.subsample(100, 10, seed=3)
    assert len(picked) == 10 and np.array_equal(picked, np.sort(picked))
    assert np.array_equal(picked, domain.subsample(100, 10, seed=3))
    unit = domain.as_metric(np.array([[3.0, 4.0], [0.0, 0.0]]), "cosine")
    assert np.allclose(unit, [[0.6, 0.8], [0.0, 0.0]])
    with pytest.raises(ValueError, match="same d"):
        domain.mmd2(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        domain.frechet_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="pass a bandwidth"):
        domain.mmd2(np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="unknown metric"):
        domain.as_metric(np.zeros((1, 2)), "dot")
