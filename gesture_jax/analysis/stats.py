"""Confidence intervals and paired tests for per-item accuracy.

Everything here works on per-item correctness vectors (numpy in, Python floats out):

* ``bootstrap_ci``: percentile bootstrap of a mean. The percentile interval needs no normality or
  variance formula and behaves sensibly for accuracies near 0 or 1. With ``strata`` (normally the class
  labels) items are resampled within each stratum, keeping its size: the test sets' class composition is
  fixed by design, so only which items of each class we happened to see is random.
* ``paired_bootstrap_ci``: the same for the difference of two models scored on the same items, resampling
  both with the same indices, so item difficulty shared by both models cancels.
* ``mcnemar_exact``: exact (binomial) McNemar test for paired correctness; it uses only the discordant
  items and stays valid when they are few.
* ``bootstrap_ci_2d``: few-shot curves, resampling both the random gallery draws and the query videos.
* ``mean_class_weights``: weights that turn a plain mean into the mean per-class accuracy.
* ``exact_binomial_ci``: the Clopper–Pearson interval of k successes in n, for an accuracy whose bootstrap
  cannot vary (every class all right or all wrong): a zero-width interval is not zero uncertainty.
* ``holm``: Holm's step-down adjustment of p-values for the number of tests made together.
* ``harmonic_mean`` / ``harmonic_mean_ci``: base-to-novel reporting's summary of seen- and novel-class
  accuracy, its interval from resampling the two (disjoint) query sets independently.

Resampling is chunked so memory stays bounded (about ``_CHUNK_ELEMENTS`` random numbers at a time), and the
random stream does not depend on the chunking: each resample consumes a fixed number of uniform doubles from
``np.random.default_rng(seed)`` in a fixed order, so any chunk size gives bit-identical intervals.
"""

from __future__ import annotations

import fractions

import numpy as np

# Random numbers (one per resampled item) drawn per chunk; results do not depend on it, only memory does.
_CHUNK_ELEMENTS = 1 << 21


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def _as_1d(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {x.shape}")
    return x


def _check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{name_a} and {name_b} differ in length: {len(a)} != {len(b)}")


def _bootstrap_means(values: np.ndarray, strata, num_resamples: int, seed: int) -> np.ndarray:
    """Bootstrap means of ``values`` [S, N]: S rows (seeds) and N columns (items), both resampled.

    Each resample consumes N uniforms (items, stratum by stratum in order of first appearance), then S
    uniforms (rows) when S > 1; a single row needs no draw, so S == 1 is exactly the 1-D bootstrap.
    """
    num_rows, n = values.shape
    if n == 0 or num_rows == 0:
        raise ValueError(f"cannot bootstrap an empty array (shape {values.shape})")
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be at least 1, got {num_resamples}")
    if strata is None:
        order, col_start, col_size = np.arange(n), np.zeros(n, np.int64), np.full(n, n, np.int64)
    else:
        strata = _as_1d(strata, "strata")
        if len(strata) != n:
            raise ValueError(f"strata has length {len(strata)} but there are {n} items")
        _, first, inverse, counts = np.unique(
            strata, return_index=True, return_inverse=True, return_counts=True
        )
        # Strata in order of first appearance, not of their sorted labels: the interval is then the same
        # whether the strata are given as class indices or as class names (as in a predictions CSV).
        rank = np.empty(len(first), np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        inverse, counts = rank[inverse], counts[np.argsort(first, kind="stable")]
        order = np.argsort(inverse, kind="stable")  # items grouped by stratum
        col_start = np.repeat(np.cumsum(counts) - counts, counts)
        col_size = np.repeat(counts, counts)
    values = values[:, order]
    row_draws = num_rows if num_rows > 1 else 0
    chunk = max(1, _CHUNK_ELEMENTS // (n + row_draws))
    rng = np.random.default_rng(seed)
    means = np.empty(num_resamples)
    for begin in range(0, num_resamples, chunk):
        r = min(chunk, num_resamples - begin)
        u = rng.random((r, n + row_draws))
        # Index within the item's own stratum; the clip guards against u * size rounding up to size.
        idx = (u[:, :n] * col_size).astype(np.int64)
        np.minimum(idx, col_size - 1, out=idx)
        idx += col_start
        if num_rows == 1:
            means[begin : begin + r] = values[0][idx].mean(axis=1)
            continue
        rows = np.minimum((u[:, n:] * num_rows).astype(np.int64), num_rows - 1)
        offsets = np.arange(r)[:, None] * num_rows
        row_counts = np.bincount((rows + offsets).ravel(), minlength=r * num_rows).reshape(r, num_rows)
        row_mean = row_counts.astype(np.float64) @ values / num_rows  # [r, N]: mean over drawn rows
        means[begin : begin + r] = np.take_along_axis(row_mean, idx, axis=1).mean(axis=1)
    return means


def _percentile_interval(means: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def bootstrap_ci(
    correct, *, level: float = 0.95, num_resamples: int = 10_000, seed: int = 0, strata=None
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``mean(correct)``.

    ``correct`` is a 1-D boolean/0-1 array, or any real per-item scores (e.g. ``correct * weights`` from
    ``mean_class_weights``). With ``strata`` (1-D labels, same length) each stratum is resampled on its
    own, keeping its size. Deterministic in ``seed``.
    """
    _check_level(level)
    correct = _as_1d(correct, "correct").astype(np.float64)
    if len(correct) == 0:
        raise ValueError("correct is empty: cannot bootstrap the mean of no items")
    return _percentile_interval(_bootstrap_means(correct[None], strata, num_resamples, seed), level)


def paired_bootstrap_ci(
    correct_a, correct_b, *, level: float = 0.95, num_resamples: int = 10_000, seed: int = 0, strata=None
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``mean(a) - mean(b)``, resampling both with the same indices.

    This is exactly ``bootstrap_ci(a - b)`` with the same ``seed`` and ``strata``.
    """
    a = _as_1d(correct_a, "correct_a").astype(np.float64)
    b = _as_1d(correct_b, "correct_b").astype(np.float64)
    _check_same_length(a, b, "correct_a", "correct_b")
    return bootstrap_ci(a - b, level=level, num_resamples=num_resamples, seed=seed, strata=strata)


def mcnemar_exact(correct_a, correct_b) -> float:
    """Two-sided exact McNemar p-value for paired 0/1 correctness of two models on the same items.

    With n01 = #(a right, b wrong) and n10 = #(a wrong, b right), p = min(1, 2 P[X <= min(n01, n10)]) for
    X ~ Binomial(n01 + n10, 1/2); p = 1 when there are no discordant items.
    """
    a, b = _as_1d(correct_a, "correct_a"), _as_1d(correct_b, "correct_b")
    _check_same_length(a, b, "correct_a", "correct_b")
    for name, x in (("correct_a", a), ("correct_b", b)):
        if not np.all((x == 0) | (x == 1)):
            raise ValueError(f"{name} must hold only 0/1 (or booleans)")
    a, b = a.astype(bool), b.astype(bool)
    n01, n10 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if n01 + n10 == 0:
        return 1.0
    return _twice_binomial_half_cdf(min(n01, n10), n01 + n10)


def _twice_binomial_half_cdf(k: int, n: int) -> float:
    """min(1, 2 P[X ≤ k]) for X ~ Binomial(n, 1/2), n ≥ 1, in integers: Σ_{i≤k} C(n, i) / 2^(n−1), rounded
    once, so exact (scipy.stats.binom.cdf's float evaluation differs by up to ~1e-13, relative); it also
    spares each run the ~0.9 s of importing scipy.stats. 50,000 discordant items take ~0.2 s."""
    term = total = 1
    for i in range(k):
        term = term * (n - i) // (i + 1)  # C(n, i + 1), exactly
        total += term
    return float(min(fractions.Fraction(1), fractions.Fraction(total, 1 << (n - 1))))


def exact_binomial_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of a proportion from `successes` of `n` (exact, conservative), as scipy's
    ``binomtest(...).proportion_ci(method="exact")`` computes it."""
    _check_level(level)
    if not 0 <= successes <= n or n < 1:
        raise ValueError(f"expected 0 <= successes <= n and n >= 1, got {successes} of {n}")
    from scipy.stats import binomtest  # imported only when an interval needs it (~1 s)

    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def bootstrap_ci_2d(
    correct, *, level: float = 0.95, num_resamples: int = 10_000, seed: int = 0, strata=None
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``correct`` [S, N] (S gallery draws x N queries).

    Each resample draws S rows (seeds) and N queries with replacement (queries stratified by ``strata``,
    length N, when given) and takes the mean of ``correct[seeds][:, queries]``, so the interval covers
    both the gallery-draw and the query-sampling variability. With S == 1 no seed is drawn and the result
    equals ``bootstrap_ci(correct[0], ...)`` exactly.
    """
    _check_level(level)
    correct = np.asarray(correct)
    if correct.ndim != 2:
        raise ValueError(f"correct must be 2-D [seeds, queries], got shape {correct.shape}")
    return _percentile_interval(
        _bootstrap_means(correct.astype(np.float64), strata, num_resamples, seed), level
    )


def mean_class_weights(labels) -> np.ndarray:
    """Per-item weights ``w_i = N / (C * n_class(i))``, C the number of classes present.

    ``mean(correct * w)`` is then the mean over present classes of per-class accuracy, and
    ``bootstrap_ci(correct * w, strata=labels)`` (class sizes fixed under resampling, so the weights stay
    right) is the stratified bootstrap interval of the mean class accuracy.
    """
    labels = _as_1d(labels, "labels")
    if len(labels) == 0:
        raise ValueError("labels is empty")
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return len(labels) / (len(counts) * counts[inverse].astype(np.float64))


def harmonic_mean(seen, novel):
    """2·s·n / (s + n), elementwise; 0 where both are 0."""
    seen, novel = np.asarray(seen, np.float64), np.asarray(novel, np.float64)
    total = seen + novel
    return np.where(total > 0, 2 * seen * novel / np.where(total > 0, total, 1), 0.0)


def harmonic_mean_ci(
    correct_seen,
    correct_novel,
    *,
    strata_seen=None,
    strata_novel=None,
    level: float = 0.95,
    num_resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the harmonic mean of two accuracies measured on disjoint query
    sets (seen-class and novel-class videos): each set is resampled on its own (within its strata), and
    the harmonic mean taken per resample. Each side is ``[N]`` or ``[S, N]`` (S gallery draws)."""
    _check_level(level)
    means = []
    for i, (correct, strata) in enumerate(((correct_seen, strata_seen), (correct_novel, strata_novel))):
        values = np.asarray(correct, np.float64)
        values = values[None] if values.ndim == 1 else values
        if values.ndim != 2:
            raise ValueError(f"correctness must be [N] or [S, N], got shape {np.shape(correct)}")
        means.append(_bootstrap_means(values, strata, num_resamples, seed + i))
    return _percentile_interval(harmonic_mean(*means), level)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence between the tests):
    the i-th smallest p times (m − i), made monotone and capped at 1, in the input's order."""
    p = _as_1d(p_values, "p_values").astype(np.float64)
    if ((p < 0) | (p > 1) | np.isnan(p)).any():
        raise ValueError("p_values must lie in [0, 1]")
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adjusted
    return out
