"""Paired differences between rows on the same queries: bootstrap interval and exact McNemar test."""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from gesture_jax.analysis import stats
from gesture_jax.evaluation import scoring


def comparisons(rows: Sequence[scoring.Row], label) -> list[dict[str, Any]]:
    """Paired comparisons of the headline rows scored on the same query videos: every pair in the same
    table row (`label(row)`, across galleries) or the same column (a gallery, across table rows)."""
    singles = [r for r in rows if r.pairable]
    out = []
    for a, b in itertools.combinations(singles, 2):
        same_row, same_column = label(a) == label(b), a.gallery == b.gallery
        if a.queries != b.queries or not (same_row or same_column):
            continue
        if not _same_videos(a, b):
            continue  # e.g. the held-out classes' videos against all of them
        out.append(compare(a, b, "same table row" if same_row else "same gallery"))
    return out


def compare(a: scoring.Row, b: scoring.Row, pair: str = "") -> dict[str, Any]:
    """a − b on the same query videos: the difference, its paired 95% bootstrap interval (stratified by
    class) and the exact McNemar p."""
    if not (a.pairable and b.pairable and _same_videos(a, b)):
        raise ValueError(f"rows {a.id} and {b.id} are not scored once on the same query videos")
    ca, cb = a.correct, b.correct
    return {
        "a": a.id,
        "b": b.id,
        "queries": a.queries,
        "pair": pair,
        "difference": float(ca.mean() - cb.mean()),
        "ci95": list(stats.paired_bootstrap_ci(ca, cb, strata=a.labels)),
        "mcnemar_p": stats.mcnemar_exact(ca, cb),
        "ci_strata": scoring.CI_STRATA,
    }


def _same_videos(a: scoring.Row, b: scoring.Row) -> bool:
    return np.array_equal(a.ids, b.ids) and np.array_equal(a.labels, b.labels)
