"""The evaluation protocol: every mode scores query videos through the functions here and nowhere else.

- `Row`: one evaluation (a method, an encoder state, a gallery and a query split), its per-video
  predictions, its metrics and their 95% intervals. `Row.id` is stable: it names the row's files too.
- `score` / `score_draws`: a row from predictions (one set, or one per random gallery draw).
- `probe_rows`: the probes on one feature cache, side by side on the same queries: `knn` (a sweep of k,
  metric and vote weighting, including the paper's fixed setting), `prototype` and `linear_probe`; each
  family's setting is chosen on validation data that is never the query split (see `Validation`).
- `knn_row`, `fewshot_rows`, `head_row`: the single KNN row, few-shot galleries drawn per seed, and a
  classifier head's row; `zeroshot` rows use `score` directly.
- `comparisons` and `breakdowns`: paired differences between rows and per-group accuracies.

Intervals: percentile bootstrap (`gesture_jax.analysis.stats`, 10,000 resamples, seed 0) resampling the query
videos within each true class (``ci_strata: "class"``), since a test set's class composition is fixed
by its design; a row over random gallery draws resamples draws and queries together.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import re
from typing import Any, Sequence

import numpy as np

from gesture_jax.analysis import knn, probes, stats
from gesture_jax.features.extraction import VideoVectors

ALL = 0  # shots = 0: every video of the split
CI_STRATA = "class"


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
    breakdowns: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)  # filled by `score`

    @property
    def id(self) -> str:
        """Stable and readable; the parts of older reports first, so their file names do not change."""
        s = self.settings
        parts = [self.experiment, self.encoder, self.encoder_state]
        parts += [f"alpha{s['alpha']:g}" if self.encoder_state == "interpolated" else ""]
        parts += [s.get("class_subset", ""), self.gallery, self.queries]
        parts += [f"k{s['k']}" if "k" in s else "", s.get("metric", "")]
        parts += [self.method if self.method in ("prototype", "linear_probe") else ""]
        parts += [f"votes-{s['votes']}" if s.get("votes", "uniform") != "uniform" else ""]
        parts += [f"wd{s['weight_decay']:g}" if "weight_decay" in s else ""]
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(p for p in parts if p)).strip("-")

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


# --- KNN, few-shot galleries and the head ---------------------------------------------------------------


def knn_row(
    gallery: VideoVectors,
    queries: VideoVectors,
    *,
    k: int,
    metric: str,
    class_names: Sequence[str],
    mesh,
    describe: dict[str, Any],
    query_mask: np.ndarray | None = None,
    neighbours: np.ndarray | None = None,
) -> Row:
    """The paper's KNN (majority vote) row; k is clamped below the gallery size (`usable_k`) and
    reported as used. `neighbours`: the (masked) queries' [Q, k] gallery indices when the caller has
    already searched (`knn_neighbours` with the usable k), so the search is not run twice."""
    mask = np.ones(len(queries), bool) if query_mask is None else query_mask
    k = usable_k(k, len(gallery))
    if neighbours is None:
        predictions = knn.knn_classify(
            gallery.vectors,
            gallery.labels,
            queries.vectors[mask],
            k=k,
            metric=metric,
            num_classes=len(class_names),
            mesh=mesh,
        )
    else:
        if neighbours.shape != (int(mask.sum()), k):
            raise ValueError(f"neighbours of shape {neighbours.shape}; expected [{int(mask.sum())}, {k}]")
        predictions = knn.majority_vote(gallery.labels[neighbours], len(class_names))
    return score(
        "knn",
        queries.labels[mask],
        predictions,
        queries.ids[mask],
        class_names,
        **_with(describe, k=k, metric=metric, num_gallery=len(gallery)),
    )


def usable_k(k: int, gallery_size: int) -> int:
    """k clamped to at most the gallery size − 1 (at least 1): a vote over every gallery video predicts
    the same class for every query (a 1-shot gallery of two classes holds two videos: 1-NN, not k=2)."""
    return max(1, min(k, gallery_size - 1))


def sample_per_class(
    labels: np.ndarray, shots: int, seed: int, classes: Sequence[int] | None = None
) -> np.ndarray:
    """Sorted indices of `shots` videos of each class (all of a class that has fewer; all for `ALL`).

    Nested: each class's videos are put in one random order per (seed, class), and a draw takes the first
    `shots` of it, so the n-shot gallery of a seed holds its m-shot gallery for every m < n, and adding
    seeds or shot counts never changes the galleries already drawn.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels) if classes is None else classes
    picked = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        if shots == ALL or len(members) <= shots:
            picked.append(members)
        else:
            order = np.random.default_rng([seed, int(c)]).permutation(members)
            picked.append(order[:shots])
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, int)


def fewshot_row(
    pool: VideoVectors,
    queries: VideoVectors,
    *,
    shots: int,
    num_seeds: int,
    k: int,
    metric: str,
    class_names: Sequence[str],
    mesh,
    describe: dict[str, Any],
    base: VideoVectors | None = None,
    query_mask: np.ndarray | None = None,
) -> Row:
    """KNN from `shots` videos per class drawn from `pool` (added to `base` when given), once per seed
    (once for `ALL`): one row over the draws (mean, std, and an interval over draws and queries)."""
    per_seed = []
    for seed in range(num_seeds if shots != ALL else 1):
        index = sample_per_class(pool.labels, shots, seed)
        gallery = VideoVectors(pool.vectors[index], pool.labels[index], pool.ids[index])
        if base is not None:
            gallery = VideoVectors.concatenate([base, gallery])
        per_seed.append(
            knn_row(
                gallery,
                queries,
                k=k,
                metric=metric,
                class_names=class_names,
                mesh=mesh,
                describe=describe,
                query_mask=query_mask,
            )
        )
    first = per_seed[0]
    row = score(
        "knn",
        first.labels,
        np.stack([r.predictions for r in per_seed]),
        first.ids,
        class_names,
        **_with(describe, **first.settings, shots=shots),
    )
    return row


def head_row(logits: VideoVectors, kept: Sequence[int], class_names, *, describe: dict[str, Any]) -> Row:
    """A classifier head's row on the videos of the classes it was trained on (`kept`, dataset labels)."""
    labels, predictions = head_predictions(logits, kept)
    keep = np.isin(logits.labels, kept)
    return score("head", labels, predictions, logits.ids[keep], class_names, **_with(describe, metric="head"))


def head_predictions(logits: VideoVectors, kept: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, head predictions) of the videos of the kept classes, both as dataset labels."""
    keep = np.isin(logits.labels, kept)
    return logits.labels[keep], np.asarray(kept)[logits.vectors[keep].argmax(1)]


def _with(describe: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """`describe` (encoder, encoder_state, gallery, queries, and settings such as classes) + `settings`,
    in the order older reports wrote them: what was evaluated, then how."""
    head = {k: describe[k] for k in ("encoder", "encoder_state", "gallery", "queries")}
    rest = {k: v for k, v in describe.items() if k not in head}
    return {**head, **settings, **rest}


# --- probes on one feature cache, their settings chosen on validation data -------------------------------

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
            return [(_take(gallery, train), self.vectors)]
        if len(gallery) < 2:
            raise ValueError(f"a gallery of {len(gallery)} video(s) cannot be split into folds to choose on")
        folds = probes.stratified_folds(gallery.labels, min(num_folds, len(gallery)), seed)
        return [(_take(gallery, ~np.isin(np.arange(len(gallery)), f)), _take(gallery, f)) for f in folds]

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
    describe: dict[str, Any],
) -> list[Row]:
    """Every probe of `settings.methods` from one gallery, on each query split, side by side. The
    paper's fixed KNN (`settings.k`, clamped by `usable_k`) is always a row of its own, computed by
    `knn_row` exactly as the other modes compute it."""
    num_classes = len(class_names)
    tasks = validation.tasks(gallery, settings.num_folds)
    on = validation.describe(settings.num_folds)
    protocol = {"k": usable_k(settings.k, len(gallery)), "metric": settings.metric, "votes": "uniform"}
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
            where = {**describe, "queries": name}
            paper = None
            if with_protocol:  # the paper's row exactly as `knn_row` computes it, whatever the sweep did
                paper = knn_row(gallery, q, **_keys(protocol, "k", "metric"), class_names=class_names,
                                mesh=mesh, describe=where)  # fmt: skip
            predictions = predict(q.vectors)
            for i in shown:
                p = predictions[i]
                is_protocol = with_protocol and candidates[i] == protocol
                roles = ("protocol",) * is_protocol + ("selected",) * (i == best) or ("sweep",)
                row = score(
                    method,
                    q.labels,
                    paper.predictions if is_protocol else p,
                    q.ids,
                    class_names,
                    **_with(where, **candidates[i], num_gallery=len(gallery)),
                )
                sel = choice if i == best else {"on": on, "validation_accuracy": val_acc[i]}
                rows.append(dataclasses.replace(row, roles=roles, selection=sel))
            if with_protocol and protocol not in candidates:  # a gallery too small to choose k on
                row = score("knn", q.labels, paper.predictions, q.ids, class_names,
                            **_with(where, **protocol, num_gallery=len(gallery)))  # fmt: skip
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


def _take(v: VideoVectors, index: np.ndarray) -> VideoVectors:
    return VideoVectors(v.vectors[index], v.labels[index], v.ids[index])


# --- comparisons and breakdowns ----------------------------------------------------------------------


def comparisons(rows: Sequence[Row], label) -> list[dict[str, Any]]:
    """Paired comparisons of the headline rows scored on the same query videos: every pair in the same
    table row (`label(row)`, across galleries) or the same column (a gallery, across table rows)."""
    singles = [r for r in rows if r.pairable]
    out = []
    for a, b in itertools.combinations(singles, 2):
        same_row, same_column = label(a) == label(b), a.gallery == b.gallery
        if a.queries != b.queries or not (same_row or same_column):
            continue
        if not (np.array_equal(a.ids, b.ids) and np.array_equal(a.labels, b.labels)):
            continue  # e.g. the held-out classes' videos against all of them
        ca, cb = a.correct, b.correct
        out.append(
            {
                "a": a.id,
                "b": b.id,
                "queries": a.queries,
                "pair": "same table row" if same_row else "same gallery",
                "difference": float(ca.mean() - cb.mean()),
                "ci95": list(stats.paired_bootstrap_ci(ca, cb, strata=a.labels)),
                "mcnemar_p": stats.mcnemar_exact(ca, cb),
                "ci_strata": CI_STRATA,
            }
        )
    return out


def breakdowns(row: Row, groups: dict[str, np.ndarray]) -> dict[str, list[dict[str, Any]]]:
    """Accuracy per value of each metadata field of the queries (`groups[field]`: one value per query
    video), with counts and unstratified intervals (a group is often too small to stratify by class)."""
    if row.predictions.ndim != 1:
        return {}
    out = {}
    for field, values in groups.items():
        values = np.asarray(values)
        if len(values) != len(row.labels):
            raise ValueError(f"breakdown {field!r}: {len(values)} values for {len(row.labels)} queries")
        cells = []
        for value in np.unique(values):
            c = row.correct[values == value]
            cells.append(
                {
                    "value": value.item() if hasattr(value, "item") else value,
                    "count": int(len(c)),
                    "accuracy": float(c.mean()),
                    "ci95": list(stats.bootstrap_ci(c)),
                }
            )
        out[field] = cells
    return out


def nearest_gallery_groups(
    gallery: VideoVectors, queries: VideoVectors, *, metric: str, mesh, metadata
) -> dict[str, np.ndarray]:
    """Each query's group by its nearest gallery video: ``"nearest gallery video: <field>"`` → one value
    per query, from `metadata(indices) -> {field: values}` of the gallery records at those indices (only
    the neighbours are read, not a whole synthetic gallery). With a synthetic gallery this attributes
    accuracy to generator parameters: which avatars, camera yaws, ... the queries were matched to."""
    nearest = knn.knn_neighbours(gallery.vectors, queries.vectors, k=1, metric=metric, mesh=mesh)[:, 0]
    unique, inverse = np.unique(nearest, return_inverse=True)
    return {f"nearest gallery video: {f}": values[inverse] for f, values in metadata(unique).items()}


def log(row: Row) -> None:
    m = row.metrics
    ci = m.get("accuracy_ci95", [float("nan")] * 2)
    setting = ", ".join(
        f"{k}={row.settings[k]}" for k in ("k", "metric", "votes", "weight_decay") if k in row.settings
    )
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
