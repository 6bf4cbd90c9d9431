"""How many real videos per class a synthetic gallery is worth: its real-video equivalent.

The real few-shot curve (accuracy against real gallery videos per class, each point a mean over draws)
is read as a piecewise-linear function; the equivalent is the first number of real videos per class at
which it reaches the synthetic gallery's accuracy. Its interval resamples the query videos (within each
class, the same indices for every point and for the synthetic gallery) and reads the crossing again.
Where the synthetic accuracy lies below the curve's first point or above its last, the equivalent is
censored at that end: reported as such, and clipped there inside the interval (with the share of
resamples that were).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def crossing(xs: Sequence[float], ys: Sequence[float], target: float) -> tuple[float, str]:
    """(x, where) of the first point at which the piecewise-linear curve through (xs, ys), xs increasing,
    reaches `target`: where is "inside", or "below" (target under ys[0]: x = xs[0]) or "above" (never
    reached: x = xs[-1])."""
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    if len(xs) < 1 or len(xs) != len(ys) or np.any(np.diff(xs) <= 0):
        raise ValueError(f"expected increasing xs and ys of one length, got {xs} and {ys}")
    if target < ys[0]:
        return float(xs[0]), "below"
    if target == ys[0]:
        return float(xs[0]), "inside"
    for i in range(len(xs) - 1):  # here ys[i] < target: the curve has not reached it yet
        if ys[i + 1] >= target:
            return float(xs[i] + (target - ys[i]) / (ys[i + 1] - ys[i]) * (xs[i + 1] - xs[i])), "inside"
    return float(xs[-1]), "above"


def _stratified_indices(strata: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picked = [rng.choice(members, size=len(members)) for members in _groups(strata)]
    return np.concatenate(picked)


def _groups(strata: np.ndarray) -> list[np.ndarray]:
    _, first, inverse = np.unique(strata, return_index=True, return_inverse=True)
    return [np.flatnonzero(inverse == g) for g in np.argsort(first, kind="stable")]


def real_video_equivalent(
    xs: Sequence[float],
    real_correct: Sequence[np.ndarray],
    synthetic_correct: np.ndarray,
    *,
    strata: np.ndarray,
    num_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """The real-video equivalent of a synthetic gallery with its bootstrap interval.

    `xs`: real videos per class of each curve point (increasing); `real_correct[i]`: 0/1 correctness of
    point i, ``[draws, queries]`` or ``[queries]``; `synthetic_correct`: ``[queries]``, the same queries;
    `strata`: each query's class (resampled within).
    """
    points = [np.atleast_2d(np.asarray(c, np.float64)) for c in real_correct]
    synthetic = np.asarray(synthetic_correct, np.float64)
    n = len(synthetic)
    if len(points) != len(xs) or any(p.shape[1] != n for p in points):
        raise ValueError("every curve point needs one correctness value per query of the synthetic row")
    curve = [float(p.mean()) for p in points]
    estimate, where = crossing(xs, curve, float(synthetic.mean()))
    rng = np.random.default_rng(seed)
    values, wheres = np.empty(num_resamples), []
    for b in range(num_resamples):
        idx = _stratified_indices(np.asarray(strata), rng)
        values[b], w = crossing(xs, [float(p[:, idx].mean()) for p in points], float(synthetic[idx].mean()))
        wheres.append(w)
    tail = (1 - level) / 2
    return {
        "real_videos_per_class": estimate,
        "where": where,  # "inside" the measured range, or censored "below" / "above" it
        "ci95": [float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))],
        "resamples_below": wheres.count("below") / num_resamples,
        "resamples_above": wheres.count("above") / num_resamples,
        "synthetic_accuracy": float(synthetic.mean()),
        "curve": [{"real_videos_per_class": float(x), "accuracy": y} for x, y in zip(xs, curve)],
        "num_resamples": num_resamples,
    }
