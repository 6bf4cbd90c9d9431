"""Probes on one feature cache, side by side on the same queries, each family's setting chosen on
validation data that is never the query split (`Validation`): `knn` (a sweep of k, metric and vote
weighting, including the paper's fixed setting), `prototype` and `linear_probe`."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

import numpy as np

from gesture_jax.analysis import knn, probes
from gesture_jax.evaluation import method_rows, scoring
from gesture_jax.features.extraction import VideoVectors

PROBES = ("knn", "prototype", "linear_probe")
SELECTION_RULE = (
    "the highest validation accuracy; a tie goes to the earlier candidate in the configured order"
)


@dataclasses.dataclass(frozen=True)
class ProbeSettings:
    methods: tuple[str, ...] = PROBES
    k: int = 3  # the paper's fixed KNN row (majority vote), always reported
    metric: str = "l2"
    k_sweep: tuple[int, ...] = (1, 3, 5, 7, 11, 21)
    metrics: tuple[str, ...] = ("l2", "cosine")
    votes: tuple[str, ...] = ("uniform", "distance", "temperature")  # temperature: cosine only
    temperature: float = 0.07
    weight_decays: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4)  # strongest first: it wins ties
    num_folds: int = 5


@dataclasses.dataclass(frozen=True)
class Validation:
    """Where a gallery's probe settings are chosen, never on the queries: a validation split (its videos
    that are also in the gallery, as RoCoG-v2's val_tsonly in real train, leave the gallery while
    choosing), or without one, stratified folds of the gallery itself."""

    name: str = ""  # the validation split; "" = folds
    vectors: VideoVectors | None = None

    def tasks(self, gallery: VideoVectors, num_folds: int, seed: int = 0):
        """(training part, held-out part) pairs on which candidates are scored, pooled."""
        if self.vectors is not None:
            train = ~np.isin(gallery.ids, self.vectors.ids)
            if not train.any():
                raise ValueError(f"every gallery video is also in the validation split {self.name}")
            return [(gallery.take(train), self.vectors)]
        if len(gallery) < 2:
            raise ValueError(f"a gallery of {len(gallery)} video(s) cannot be split into folds to choose on")
        folds = probes.stratified_folds(gallery.labels, min(num_folds, len(gallery)), seed)
        return [(gallery.take(~np.isin(np.arange(len(gallery)), f)), gallery.take(f)) for f in folds]

    def describe(self, num_folds: int) -> str:
        return self.name or f"{num_folds}-fold cross-validation within the gallery (stratified by class)"


def probe_rows(
    gallery: VideoVectors,
    queries: dict[str, VideoVectors],
    validation: Validation,
    settings: ProbeSettings,
    *,
    class_names: Sequence[str],
    mesh,
    key: scoring.RowKey,
) -> list[scoring.Row]:
    """Every probe of `settings.methods` from one gallery, on each query split, side by side. The
    paper's fixed KNN (`settings.k`, clamped by `usable_k`) is always a row of its own, computed by
    `method_rows.knn_row` exactly as the other modes compute it."""
    num_classes = len(class_names)
    tasks = validation.tasks(gallery, settings.num_folds)
    on = validation.describe(settings.num_folds)
    protocol = {
        "k": method_rows.usable_k(settings.k, len(gallery)),
        "metric": settings.metric,
        "votes": "uniform",
    }
    rows = []
    for method in settings.methods:
        if method not in PROBES:
            raise ValueError(f"unknown probe {method!r}; expected some of {PROBES}")
        if method == "knn":
            # k may not exceed the smallest part that candidates are fitted on while choosing.
            size = min(len(gallery), *(len(train) for train, _ in tasks))
            candidates = _knn_candidates(settings, size)
            fit = functools.partial(_fit_knn, settings=settings, mesh=mesh, num_classes=num_classes)
        elif method == "prototype":
            candidates = [{"metric": m} for m in settings.metrics]
            fit = functools.partial(_fit_prototypes, num_classes=num_classes)
        else:
            candidates = [{"weight_decay": float(w)} for w in settings.weight_decays]
            fit = functools.partial(_fit_linear, mesh=mesh, num_classes=num_classes)
        val_acc = _validation_accuracy(candidates, tasks, fit)
        best = int(np.argmax(val_acc))  # the first maximum: the earlier candidate
        choice = {
            "on": on,
            "rule": SELECTION_RULE,
            "candidates": [{**c, "validation_accuracy": a} for c, a in zip(candidates, val_acc)],
        }
        # The linear probe reports its chosen weight decay only; KNN and prototypes every candidate.
        shown = [best] if method == "linear_probe" else list(range(len(candidates)))
        # Fitted once for every query split, on every candidate: the linear probe's weight decays then
        # share the program its validation fits compiled (one λ alone would be another compilation).
        predict = fit(gallery, candidates)
        with_protocol = method == "knn"
        for name, q in queries.items():
            where = dataclasses.replace(key, queries=name)
            paper = None
            if with_protocol:  # the paper's row exactly as `knn_row` computes it, whatever the sweep did
                paper = method_rows.knn_row(
                    gallery,
                    q,
                    **_keys(protocol, "k", "metric"),
                    class_names=class_names,
                    mesh=mesh,
                    key=where,
                )
            predictions = predict(q.vectors)
            for i in shown:
                p = predictions[i]
                is_protocol = with_protocol and candidates[i] == protocol
                roles = ("protocol",) * is_protocol + ("selected",) * (i == best) or ("sweep",)
                row = scoring.score(
                    dataclasses.replace(where, method=method, **candidates[i]),
                    q.labels,
                    paper.predictions if is_protocol else p,
                    q.ids,
                    class_names,
                    num_gallery=len(gallery),
                )
                sel = choice if i == best else {"on": on, "validation_accuracy": val_acc[i]}
                rows.append(dataclasses.replace(row, roles=roles, selection=sel))
            if with_protocol and protocol not in candidates:  # a gallery too small to choose k on
                protocol_key = dataclasses.replace(where, method="knn", **protocol)
                row = scoring.score(
                    protocol_key, q.labels, paper.predictions, q.ids, class_names, num_gallery=len(gallery)
                )
                rows.append(dataclasses.replace(row, roles=("protocol",)))
    return rows


def _keys(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: d[k] for k in keys}


def _knn_candidates(settings: ProbeSettings, size: int) -> list[dict[str, Any]]:
    """(k, metric, votes) in the configured order, k at most `size`; the paper's setting leads when
    the sweep does not hold it (and it fits)."""
    out = [
        {"k": k, "metric": m, "votes": v}
        for m in settings.metrics
        for v in settings.votes
        if v != "temperature" or m == "cosine"
        for k in settings.k_sweep
        if k <= size
    ]
    protocol = {"k": settings.k, "metric": settings.metric, "votes": "uniform"}
    return out if protocol in out or settings.k > size else [protocol, *out]


def _validation_accuracy(candidates, tasks, fit) -> list[float]:
    """Each candidate's accuracy over the held-out parts of every task, pooled."""
    correct = np.zeros(len(candidates))
    for train, held in tasks:
        for i, p in enumerate(fit(train, candidates)(held.vectors)):
            correct[i] += (p == held.labels).sum()
    return [float(c / sum(len(held) for _, held in tasks)) for c in correct]


# A probe family's `fit(gallery, candidates)` returns `predict(queries) -> one prediction per candidate`.
def _fit_knn(gallery: VideoVectors, candidates, *, settings, mesh, num_classes):
    def predict(queries: np.ndarray) -> list[np.ndarray]:
        # One neighbour search per metric, at the largest k; every (k, votes) reads its prefix.
        neighbours = {
            m: knn.knn_neighbours(
                gallery.vectors,
                queries,
                k=max(c["k"] for c in candidates if c["metric"] == m),
                metric=m,
                mesh=mesh,
            )
            for m in dict.fromkeys(c["metric"] for c in candidates)
        }
        return [
            probes.knn_predict(
                gallery.vectors,
                gallery.labels,
                queries,
                k=c["k"],
                metric=c["metric"],
                votes=c["votes"],
                temperature=settings.temperature,
                num_classes=num_classes,
                neighbours=neighbours[c["metric"]][:, : c["k"]],
            )
            for c in candidates
        ]

    return predict


def _fit_prototypes(gallery: VideoVectors, candidates, *, num_classes):
    def predict(queries: np.ndarray) -> list[np.ndarray]:
        return [
            probes.prototype_predict(
                gallery.vectors, gallery.labels, queries, metric=c["metric"], num_classes=num_classes
            )
            for c in candidates
        ]

    return predict


def _fit_linear(gallery: VideoVectors, candidates, *, mesh, num_classes):
    fitted = probes.fit_linear_probe(
        gallery.vectors,
        gallery.labels,
        num_classes=num_classes,
        weight_decays=[c["weight_decay"] for c in candidates],
        mesh=mesh,
    )
    return lambda queries: [probes.linear_probe_predict(p, queries) for p in fitted]
