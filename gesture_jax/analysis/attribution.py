"""Which of the generator's parameter values make a synthetic gallery useful, or harmful, on real videos.

RoCoG-v2 publishes each synthetic video's generator parameters (avatar, terrain, camera yaw, distance
and height, animated or motion capture, speed, ...); the toy set stores its own under ``params``. From a
synthetic gallery's features and those values, per parameter value (numpy in, dicts of floats out):

* `neighbour_shares`: of all real queries' k nearest synthetic neighbours, the share that have the value,
  beside the value's share of the gallery (their ratio, the lift, above 1 when the encoder matches real
  videos to that value more often than its count predicts), and how often those neighbours carry the
  query's class (vote correctly);
* `leave_one_out`: KNN accuracy on the real queries with every synthetic video of that value left out,
  against the full gallery on the same queries (paired bootstrap interval stratified by class, exact
  McNemar p, and the Holm-adjusted p over all values tested, since dozens are tested at once);
* `curate`: a subset chosen by leaving values out greedily while accuracy on a selection split (never
  the test split) rises; the caller scores it once on the test queries.

A numeric parameter with more than `max_values` distinct values is cut into quantile bins of the
gallery's values (`factor`; the rule is kept with the values). KNN runs go through ``predict(mask)``: a
gallery mask over one compiled search (`gesture_jax.analysis.knn`), so the many ablations compile once.
Each output is a typed value (`Share`, `Ablation`, `Step`) that names its parameter value the same way
(`Value`); JSON writes their fields by name, leaving out the optional ones that are not set.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from gesture_jax.analysis import stats
from gesture_jax.infra import storage

Predict = Callable[[np.ndarray], np.ndarray]  # gallery mask [G] bool -> predicted labels [Q]


@dataclasses.dataclass(frozen=True)
class Factor:
    """One generator parameter over a gallery: each video's value index and the values' names."""

    field: str
    codes: np.ndarray  # [G] int, index into `values`
    values: tuple[str, ...]
    rule: str  # how values were formed: "each value" or "<n> quantile bins of the gallery's values"
    intervals: tuple[tuple[float, float], ...] = ()  # bins only: each value's exact [low, high) edges

    def describe(self, v: int) -> dict[str, Any]:
        """The field, value name, rule and (bins) exact edges of value `v`, as every output row has them."""
        out: dict[str, Any] = {"field": self.field, "value": self.values[v], "rule": self.rule}
        if self.intervals:
            out["low"], out["high"] = self.intervals[v]  # the last bin includes its high edge
        return out


@dataclasses.dataclass(frozen=True, kw_only=True)
class Value:
    """One parameter value as every output names it: `Factor.describe`'s fields."""

    field: str
    value: str
    rule: str
    low: float | None = storage.optional()  # bins only: the value's exact edges
    high: float | None = storage.optional()


@dataclasses.dataclass(frozen=True, kw_only=True)
class Share(Value):
    """A value's share of the gallery and of the real queries' synthetic neighbours."""

    gallery_count: int
    gallery_share: float
    neighbour_count: int
    neighbour_share: float
    lift: float  # neighbour share / gallery share
    neighbours_correct: float | None  # of those neighbours, the share with the query's class; None: none


@dataclasses.dataclass(frozen=True, kw_only=True)
class Ablation(Value):
    """The gallery without a value's videos against the full gallery, on the same queries; or why the
    value was not ablated (`skipped`, and no accuracies)."""

    num_removed: int
    skipped: str | None = storage.optional()
    accuracy: float | None = storage.optional()
    full_accuracy: float | None = storage.optional()
    difference: float | None = storage.optional()  # accuracy − full accuracy: positive, better without
    ci95: list[float] | None = storage.optional()
    mcnemar_p: float | None = storage.optional()
    classes_lost: list = dataclasses.field(default_factory=list)  # class indices (names once named)
    mcnemar_p_holm: float | None = storage.optional()


@dataclasses.dataclass(frozen=True, kw_only=True)
class Step(Value):
    """One removal of the curation: the value left out, then the selection accuracy and gallery size."""

    selection_accuracy: float
    num_gallery: int


def factor(field: str, values, *, max_values: int = 6, bins: int = 4) -> Factor:
    """`values` (one per gallery video) as a factor: text, booleans and parameters with at most
    `max_values` distinct values as they are; other numbers in `bins` quantile bins ("[lo, hi)", the
    last closed), empty bins dropped."""
    values = np.asarray(values)
    if values.ndim != 1 or not len(values):
        raise ValueError(f"{field}: expected one value per gallery video, got shape {values.shape}")
    kind = values.dtype.kind
    if kind not in "USObiuf":
        raise ValueError(f"{field}: values of dtype {values.dtype} are neither text nor numbers")
    if kind == "f" and not np.isfinite(values).all():
        raise ValueError(f"{field}: {int((~np.isfinite(values)).sum())} values are not finite")
    unique, codes = np.unique(values, return_inverse=True)
    if kind in "USOb" or len(unique) <= max_values:
        return Factor(field, codes.astype(np.int32), tuple(_name(u) for u in unique), "each value")
    edges = np.unique(np.quantile(values.astype(np.float64), np.linspace(0.0, 1.0, bins + 1)))
    codes = np.searchsorted(edges[1:-1], values, side="right")
    names = [
        f"[{lo:.4g}, {hi:.4g}{']' if i == len(edges) - 2 else ')'}"
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))
    ]
    used, codes = np.unique(codes, return_inverse=True)
    rule = f"{len(used)} quantile bins of the gallery's values"
    intervals = tuple((float(edges[i]), float(edges[i + 1])) for i in used)
    return Factor(field, codes.astype(np.int32), tuple(names[i] for i in used), rule, intervals)


def _name(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def neighbour_shares(
    f: Factor, neighbours: np.ndarray, gallery_labels: np.ndarray, query_labels: np.ndarray
) -> list[Share]:
    """Per value of `f`: its share of the gallery and of the queries' neighbours ``[Q, k]`` (indices into
    the gallery), their ratio (lift), and the share of those neighbours with the query's class (None
    when the value is never a neighbour)."""
    neighbours = np.asarray(neighbours)
    codes = f.codes[neighbours]
    correct = np.asarray(gallery_labels)[neighbours] == np.asarray(query_labels)[:, None]
    in_gallery = np.bincount(f.codes, minlength=len(f.values))
    out = []
    for v in range(len(f.values)):
        hit = codes == v
        gallery_share = in_gallery[v] / len(f.codes)
        share = float(hit.mean())
        out.append(
            Share(
                **f.describe(v),
                gallery_count=int(in_gallery[v]),
                gallery_share=float(gallery_share),
                neighbour_count=int(hit.sum()),
                neighbour_share=share,
                lift=share / gallery_share,
                neighbours_correct=float(correct[hit].mean()) if hit.any() else None,
            )
        )
    return out


def leave_one_out(
    factors: Sequence[Factor],
    predict: Predict,
    query_labels: np.ndarray,
    gallery_labels: np.ndarray,
    *,
    k: int,
    seed: int = 0,
) -> list[Ablation]:
    """Per value of every factor: accuracy without the gallery's videos of that value, the paired
    difference to the full gallery (positive: better without them) with its 95% interval, McNemar's p and
    Holm's adjustment over every value tested. A value whose removal leaves k or fewer videos (a
    parameter with one value, say) is listed with ``skipped`` saying why."""
    labels = np.asarray(query_labels)
    gallery_labels = np.asarray(gallery_labels)
    full = predict(np.ones(len(gallery_labels), bool)) == labels
    out = []
    for f in factors:
        for v in range(len(f.values)):
            keep = f.codes != v
            value = dict(f.describe(v), num_removed=int((~keep).sum()))
            if keep.sum() <= k:
                out.append(Ablation(**value, skipped=f"leaves {int(keep.sum())} videos, k={k} needs more"))
                continue
            correct = predict(keep) == labels
            lost = np.setdiff1d(np.unique(gallery_labels), np.unique(gallery_labels[keep]))
            out.append(
                Ablation(
                    **value,
                    accuracy=float(correct.mean()),
                    full_accuracy=float(full.mean()),
                    difference=float(correct.mean() - full.mean()),
                    ci95=list(stats.paired_bootstrap_ci(correct, full, strata=labels, seed=seed)),
                    mcnemar_p=stats.mcnemar_exact(correct, full),
                    classes_lost=[int(c) for c in lost],
                )
            )
    tested = [i for i, r in enumerate(out) if r.skipped is None]
    for i, p in zip(tested, stats.holm([out[i].mcnemar_p for i in tested]) if tested else []):
        out[i] = dataclasses.replace(out[i], mcnemar_p_holm=float(p))
    return out


@dataclasses.dataclass
class Curation:
    mask: np.ndarray  # [G] bool, the curated gallery
    steps: list[Step]  # removal by removal
    start_accuracy: float  # the full gallery's accuracy on the selection split


def curate(
    factors: Sequence[Factor],
    predict_selection: Predict,
    selection_labels: np.ndarray,
    gallery_labels: np.ndarray,
    *,
    k: int,
    max_steps: int,
) -> Curation:
    """Greedy backward selection on the selection split: at each step leave out the one parameter value
    (of any factor) whose removal raises selection accuracy most, while it rises strictly, for at most
    `max_steps` steps; a removal must keep every class of the gallery and more than k videos. Ties go to
    the earlier factor and value, so the result is deterministic."""
    labels = np.asarray(selection_labels)
    gallery_labels = np.asarray(gallery_labels)
    classes = np.unique(gallery_labels)
    mask = np.ones(len(gallery_labels), bool)
    start = current = float((predict_selection(mask) == labels).mean())
    steps: list[Step] = []
    for _ in range(max_steps):
        best = None
        for f in factors:
            for v in range(len(f.values)):
                trial = mask & (f.codes != v)
                if trial.sum() == mask.sum() or trial.sum() <= k:
                    continue
                if len(np.unique(gallery_labels[trial])) < len(classes):
                    continue
                accuracy = float((predict_selection(trial) == labels).mean())
                if best is None or accuracy > best[0]:
                    best = (accuracy, f, v, trial)
        if best is None or best[0] <= current:
            break
        current, f, v, mask = best
        steps.append(Step(**f.describe(v), selection_accuracy=current, num_gallery=int(mask.sum())))
    return Curation(mask, steps, start)
