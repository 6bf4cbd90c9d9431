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


@dataclasses.dataclass(frozen=True)
class RowKey:
    """What a row evaluated, as typed values: its id comes from here, and the report's labels read the
    encoder state's α, the class subset and the method's setting from here (`Row.key`)."""

    experiment: str  # mode table: the experiment the row comes from; "" otherwise
    method: str
    encoder: str
    encoder_state: str
    gallery: str
    queries: str
    alpha: float | None = None  # WiSE-FT weight of a fine-tuning run's rows (0 frozen … 1 fine-tuned)
    class_subset: str = ""  # "seen" / "novel" of the unseen-class protocol
    k: int | None = None
    metric: str = ""
    votes: str = "uniform"
    weight_decay: float | None = None

    @property
    def id(self) -> str:
        """Stable and readable; the parts of older reports first, so their file names do not change."""
        parts = [self.experiment, self.encoder, self.encoder_state]
        parts += [f"alpha{self.alpha:g}" if self.encoder_state == "interpolated" else ""]
        parts += [self.class_subset, self.gallery, self.queries]
        parts += [f"k{self.k}" if self.k is not None else "", self.metric]
        parts += [self.method if self.method in ("prototype", "linear_probe") else ""]
        parts += [f"votes-{self.votes}" if self.votes != "uniform" else ""]
        parts += [f"wd{self.weight_decay:g}" if self.weight_decay is not None else ""]
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(p for p in parts if p)).strip("-")


@dataclasses.dataclass(frozen=True)
class Row:
    method: str  # "knn", "prototype", "linear_probe", "zeroshot" or "head"
    encoder: str
    encoder_state: str  # "frozen", or what the weights were trained on
    gallery: str  # a split, a few-shot gallery, a prompt set or "classifier head"
    queries: str
    settings: dict[str, Any]  # k, metric, votes, num_gallery, shots, prompt_set, ... (in results.json)
    class_names: tuple[str, ...]
    ids: np.ndarray  # [N] query video ids
    labels: np.ndarray  # [N]
    predictions: np.ndarray  # [N], or [S, N] for S random gallery draws
    roles: tuple[str, ...] = ()  # "protocol" (the paper's fixed setting), "selected" (on validation), "sweep"
    selection: dict[str, Any] | None = None  # how the setting was chosen, with validation accuracies
    experiment: str = ""  # mode table: the experiment file the row comes from
    query_split: str = ""  # the split the queries come from, where `queries` names a class subset of it
    breakdowns: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)  # filled by `score`

    @property
    def key(self) -> RowKey:
        """The row's typed key. `settings` holds the same values as results.json writes them; this is the
        one place that reads them back by name."""
        s = self.settings
        return RowKey(
            self.experiment,
            self.method,
            self.encoder,
            self.encoder_state,
            self.gallery,
            self.queries,
            alpha=s.get("alpha"),
            class_subset=s.get("class_subset", ""),
            k=s.get("k"),
            metric=s.get("metric", ""),
            votes=s.get("votes", "uniform"),
            weight_decay=s.get("weight_decay"),
        )

    @property
    def id(self) -> str:
        return self.key.id

    @property
    def headline(self) -> bool:
        """Shown in the summary tables and compared: not a sweep point nobody chose."""
        return "sweep" not in self.roles or "protocol" in self.roles or "selected" in self.roles

    @property
    def pairable(self) -> bool:
        """A headline row scored once (not over gallery draws) on some videos: one that paired
        comparisons and seen/novel pairs can use."""
        return self.headline and self.predictions.ndim == 1 and len(self.labels) > 0

    @property
    def correct(self) -> np.ndarray:
        return self.predictions == self.labels


def score(
    method: str,
    labels: np.ndarray,
    predictions: np.ndarray,
    ids: Sequence[str],
    class_names: Sequence[str],
    *,
    encoder: str,
    encoder_state: str,
    gallery: str,
    queries: str,
    **settings: Any,
) -> Row:
    """A row from per-video predictions ([N], or [S, N] over S random gallery draws)."""
    labels, predictions, ids = np.asarray(labels), np.asarray(predictions), np.asarray(ids)
    if predictions.shape[-1] != len(labels) or len(ids) != len(labels):
        raise ValueError(f"{len(ids)} ids, {len(labels)} labels and predictions {predictions.shape}")
    row = Row(
        method,
        encoder,
        encoder_state,
        gallery,
        queries,
        settings,
        tuple(class_names),
        ids,
        labels,
        predictions,
    )
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
    setting = ", ".join(
        f"{k}={row.settings[k]}" for k in ("k", "metric", "votes", "weight_decay") if k in row.settings
    )  # as results.json writes them
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
