"""Result rows and their metrics: every evaluation scores its query videos through `score`.

`Row` is one evaluation (a method, an encoder state, a gallery and a query split), its per-video
predictions, its metrics and their 95% intervals; `Row.id` is stable and names the row's files too.
Intervals: percentile bootstrap (`analysis.stats`, 10,000 resamples, seed 0) resampling the query videos
within each true class (``ci_strata: "class"``), since a test set's class composition is fixed by its
design; a row over random gallery draws resamples draws and queries together.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any, Sequence

import numpy as np

from gesture_jax.analysis import stats

CI_STRATA = "class"
# A token probe's best grid member on the queries themselves (published practice) is its own method,
# "<method>_best_on_queries", so no reader takes it for a held-out choice.
ORACLE_SUFFIX = "_best_on_queries"


@dataclasses.dataclass(frozen=True)
class RowKey:
    """What a row evaluated, as typed values: the method, the encoder and its state, the gallery and the
    queries, and the method's settings. A row's id comes from here, the report's labels are rendered from
    here, and results.json writes these fields by these names (`settings`: the ones that are set)."""

    method: str  # knn, prototype, linear_probe, zeroshot, text_fewshot or head; "" until a maker sets it
    encoder: str
    encoder_state: str  # "frozen", "interpolated", "fine-tuned", or what a pre-training run trained
    gallery: str  # a split, a few-shot gallery, a prompt set or "classifier head"
    queries: str
    experiment: str = ""  # mode table: the experiment the row comes from
    k: int | None = None
    metric: str = ""
    votes: str | None = None  # None: uniform votes, not swept
    weight_decay: float | None = None
    shots: int | None = None  # labelled videos per class (0: all); a curve's synthetic-only point: None
    weight: float | None = None  # text + examples: the fixed weight of the examples (1 examples, 0 text)
    prompt_set: str = ""
    prompt: str = ""  # one prompt of a set (a single-prompt row of the prompt lab)
    curve: str = ""  # "synthetic", "real" or "mixed"
    alpha: float | None = None  # WiSE-FT weight of a fine-tuning run's rows (0 frozen … 1 fine-tuned)
    class_subset: str = ""  # "seen" / "novel" of the unseen-class protocol
    fine_tuned_on: str = ""
    learning_rate: float | None = None  # token probes: the chosen member of the grid
    layer: int | None = None  # token probes read per layer: the store's layer position
    seed: int | None = None  # token probes: the training seed (initialisation, shuffling, dropout)

    def settings(self) -> dict[str, Any]:
        """The key's settings as results.json writes them: those that are set, in this order."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in _WHAT:
                continue
            # A curve's synthetic-only point writes its shots (null) too: every curve row has them.
            if value not in (None, "") or (field.name == "shots" and self.curve):
                out[field.name] = value
        return out

    @property
    def id(self) -> str:
        """Stable and readable; the parts of older reports first, so their file names do not change."""
        parts = [self.experiment, self.encoder, self.encoder_state]
        parts += [f"alpha{self.alpha:g}" if self.encoder_state == "interpolated" else ""]
        parts += [self.class_subset, self.gallery, self.queries]
        parts += [f"k{self.k}" if self.k is not None else "", self.metric]
        parts += [
            self.method if self.method in ("prototype", "linear_probe") or "attentive" in self.method else ""
        ]
        parts += [f"votes-{self.votes}" if self.votes not in (None, "uniform") else ""]
        parts += [f"lr{self.learning_rate:g}" if self.learning_rate is not None else ""]
        parts += [f"wd{self.weight_decay:g}" if self.weight_decay is not None else ""]
        parts += [f"layer{self.layer}" if self.layer is not None else ""]
        parts += [f"seed{self.seed}" if self.seed is not None else ""]
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(p for p in parts if p)).strip("-")


@dataclasses.dataclass(frozen=True)
class Row:
    key: RowKey
    class_names: tuple[str, ...]
    ids: np.ndarray  # [N] query video ids
    labels: np.ndarray  # [N]
    predictions: np.ndarray  # [N], or [S, N] for S random gallery draws
    # What the row was computed with and is not part of what it evaluated (results.json writes them
    # beside the key's settings): num_gallery, validation, texts, scores, scale.
    facts: dict[str, Any] = dataclasses.field(default_factory=dict)
    # "protocol" (the paper's fixed setting), "selected" (on validation), "sweep", "other_seed" (a token
    # probe's row for a seed after the first: in the tables, not in paired comparisons), "query_oracle"
    # (the best of a grid on the queries themselves, published practice, labelled as such)
    roles: tuple[str, ...] = ()
    selection: dict[str, Any] | None = None  # how the setting was chosen, with validation accuracies
    query_split: str = ""  # the split the queries come from, where `queries` names a class subset of it
    breakdowns: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)  # filled by `score`

    method = property(lambda self: self.key.method)
    encoder = property(lambda self: self.key.encoder)
    encoder_state = property(lambda self: self.key.encoder_state)
    gallery = property(lambda self: self.key.gallery)
    queries = property(lambda self: self.key.queries)
    experiment = property(lambda self: self.key.experiment)

    @property
    def settings(self) -> dict[str, Any]:
        """The key's settings and the facts, as results.json writes them."""
        return {**self.key.settings(), **self.facts}

    @property
    def id(self) -> str:
        return self.key.id

    def with_key(self, **changes: Any) -> Row:
        return dataclasses.replace(self, key=dataclasses.replace(self.key, **changes))

    @property
    def headline(self) -> bool:
        """Shown in the summary tables and compared: not a sweep point nobody chose."""
        return "sweep" not in self.roles or "protocol" in self.roles or "selected" in self.roles

    @property
    def pairable(self) -> bool:
        """A headline row scored once (not over gallery draws) on some videos, and neither a token probe's
        repeat with another seed (the first seed stands for it) nor its best of a grid on the queries:
        one that paired comparisons and seen/novel pairs can use."""
        return (
            self.headline
            and not {"other_seed", "query_oracle"} & set(self.roles)
            and self.predictions.ndim == 1
            and len(self.labels) > 0
        )

    @property
    def correct(self) -> np.ndarray:
        return self.predictions == self.labels


# The key's fields that results.json writes as fields of their own, not among the settings.
_WHAT = ("method", "encoder", "encoder_state", "gallery", "queries", "experiment")
KEY_FIELDS = frozenset(f.name for f in dataclasses.fields(RowKey))


def score(
    key: RowKey,
    labels: np.ndarray,
    predictions: np.ndarray,
    ids: Sequence[str],
    class_names: Sequence[str],
    **facts: Any,
) -> Row:
    """A row from per-video predictions ([N], or [S, N] over S random gallery draws)."""
    labels, predictions, ids = np.asarray(labels), np.asarray(predictions), np.asarray(ids)
    if predictions.shape[-1] != len(labels) or len(ids) != len(labels):
        raise ValueError(f"{len(ids)} ids, {len(labels)} labels and predictions {predictions.shape}")
    if not key.method:
        raise ValueError(f"a row's key names no method: {key}")
    clash = sorted(KEY_FIELDS & set(facts))
    if clash:
        raise ValueError(f"{clash} belong in the row's key (scoring.RowKey), not among its facts")
    row = Row(key, tuple(class_names), ids, labels, predictions, facts=facts)
    return dataclasses.replace(row, metrics=_metrics(row))


def _metrics(row: Row) -> dict[str, Any]:
    draws = row.predictions.reshape(-1, len(row.labels))  # [S, N]
    per_draw = [_accuracies(row.labels, p, len(row.class_names)) for p in draws]
    acc = np.array([d[0] for d in per_draw])
    mean_class = np.array([d[1] for d in per_draw])
    per_class = np.array([d[2] for d in per_draw])  # [S, C], nan where a class has no query
    confusion = sum(_confusion(row.labels, p, len(row.class_names)) for p in draws)
    present = ~np.isnan(per_class[0]) if len(per_class) else np.zeros(0, bool)
    m: dict[str, Any] = {
        "accuracy": float(acc.mean()) if len(row.labels) else float("nan"),
        "mean_class_accuracy": float(mean_class.mean()) if present.any() else float("nan"),
        "num_queries": int(len(row.labels)),
        "per_class_accuracy": {
            n: (float(np.mean(per_class[:, c])) if present[c] else None)
            for c, n in enumerate(row.class_names)
        },
        "class_names": list(row.class_names),
        "confusion": confusion.tolist(),  # summed over draws
    }
    if row.predictions.ndim == 2:
        m.update(
            accuracy_std=float(acc.std()),
            mean_class_accuracy_std=float(mean_class.std()),
            num_seeds=len(draws),
        )
    if len(row.labels):
        correct = row.correct  # [N], or [S, N] over draws
        ci = stats.bootstrap_ci if row.predictions.ndim == 1 else stats.bootstrap_ci_2d
        m["accuracy_ci95"] = list(ci(correct, strata=row.labels))
        weighted = correct * stats.mean_class_weights(row.labels)
        m["mean_class_accuracy_ci95"] = list(ci(weighted, strata=row.labels))
        m["ci_strata"] = CI_STRATA
        m["ci_resampling"] = "queries" if row.predictions.ndim == 1 else "gallery draws and queries"
    return m


def _confusion(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def _accuracies(labels, predictions, num_classes) -> tuple[float, float, np.ndarray]:
    matrix = _confusion(labels, predictions, num_classes)
    support = matrix.sum(axis=1)
    present = support > 0
    per_class = np.where(present, np.diag(matrix) / np.maximum(support, 1), np.nan)
    # Mean class accuracy averages the classes present among the queries, as RoCoG-v2's does.
    mean_class = float(per_class[present].mean()) if present.any() else float("nan")
    return float((labels == predictions).mean()) if len(labels) else float("nan"), mean_class, per_class


def log(row: Row) -> None:
    m = row.metrics
    ci = m.get("accuracy_ci95", [float("nan")] * 2)
    shown = {k: getattr(row.key, k) for k in ("k", "metric", "votes", "weight_decay")}
    setting = ", ".join(f"{k}={v}" for k, v in shown.items() if v not in (None, ""))
    logging.info(
        "%s %s (%s): %s (%s) → %s (%d videos): accuracy %.1f%% [%.1f–%.1f], mean class %.1f%%",
        row.method,
        row.encoder,
        row.encoder_state,
        row.gallery,
        setting,
        row.queries,
        m["num_queries"],
        100 * m["accuracy"],
        100 * ci[0],
        100 * ci[1],
        100 * m["mean_class_accuracy"],
    )
