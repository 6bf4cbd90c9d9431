"""Token probes as rows: each grid trained per seed, its member chosen on validation data, scored on the
queries, with the spread across seeds.

Selection follows the other probes (`probe_selection.Validation`): on the gallery's validation split
(its videos that are also in the gallery leave the training set while choosing), or, without one, on
stratified folds of the gallery. The grid is then trained on the whole gallery (unless the validation
split was disjoint from it, when the grid already trained is that one) and the chosen member labels the
queries. V-JEPA 2 reports instead the best member on the evaluation split itself; that row can be added
(``query_oracle``), labelled as such and never a selected row.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from gesture_jax.analysis import attentive_heads, probe_grid, probes, stats
from gesture_jax.evaluation import scoring
from gesture_jax.features.token_store import TokenStore

SELECTION_RULE = "the grid member with the highest validation accuracy; a tie goes to the earlier member"


@dataclasses.dataclass(frozen=True)
class TokenProbeSettings:
    methods: tuple[str, ...] = attentive_heads.HEADS
    seeds: tuple[int, ...] = (0, 1, 2)
    grid: probe_grid.GridSettings = probe_grid.GridSettings()
    heads: dict[str, dict[str, Any]] = dataclasses.field(
        default_factory=dict
    )  # per method: HeadConfig fields
    num_folds: int = 5
    query_oracle: bool = False  # also the best member on the queries, labelled (published practice)


@dataclasses.dataclass(frozen=True)
class TokenValidation:
    name: str = ""  # the validation split; "" = folds of the gallery
    store: TokenStore | None = None

    def describe(self, num_folds: int) -> str:
        return self.name or f"{num_folds}-fold cross-validation within the gallery (stratified by class)"


@dataclasses.dataclass(frozen=True)
class SeedSpread:
    """One method's accuracy on one query split across seeds."""

    gallery: str
    queries: str
    method: str
    seeds: list[int]
    accuracies: list[float]
    mean: float
    std: float  # sample standard deviation (ddof 1); 0 for one seed
    min: float
    max: float


def _whole(store: TokenStore) -> probe_grid.TokenSet:
    labels, _ = store.index()
    return probe_grid.TokenSet(store, np.arange(len(store)), labels)


def _tasks(gallery: TokenStore, validation: TokenValidation, num_folds: int):
    """(training set, held-out set) pairs on which the members are scored, pooled; and whether the first
    training set is the whole gallery (then its grid is the final one)."""
    labels, ids = gallery.index()
    if validation.store is not None:
        _, val_ids = validation.store.index()
        train = np.flatnonzero(~np.isin(ids, val_ids))
        if not len(train):
            raise ValueError(f"every gallery video is also in the validation split {validation.name}")
        task = (probe_grid.TokenSet(gallery, train, labels[train]), _whole(validation.store))
        return [task], len(train) == len(gallery)
    if len(gallery) < 2:
        raise ValueError(f"a gallery of {len(gallery)} video(s) cannot be split into folds to choose on")
    folds = probes.stratified_folds(labels, min(num_folds, len(gallery)), 0)
    tasks = []
    for fold in folds:
        train = np.setdiff1d(np.arange(len(gallery)), fold)
        tasks.append(
            (
                probe_grid.TokenSet(gallery, train, labels[train]),
                probe_grid.TokenSet(gallery, fold, labels[fold]),
            )
        )
    return tasks, False


def _describe(member: probe_grid.Member) -> dict[str, Any]:
    out = {"learning_rate": member.learning_rate, "weight_decay": member.weight_decay}
    return out if member.layer is None else {**out, "layer": member.layer}


def token_probe_rows(
    gallery: TokenStore,
    queries: dict[str, TokenStore],
    validation: TokenValidation,
    settings: TokenProbeSettings,
    *,
    class_names: Sequence[str],
    key: scoring.RowKey,
) -> tuple[list[scoring.Row], list[SeedSpread]]:
    """Every method of `settings` at every seed, from one gallery's tokens, on each query split."""
    num_classes = len(class_names)
    tasks, first_is_whole = _tasks(gallery, validation, settings.num_folds)
    whole = _whole(gallery)
    # Each query split's videos and ids, read once for every method and seed.
    query_sets = {name: (_whole(store), store.index()[1]) for name, store in queries.items()}
    on = validation.describe(settings.num_folds)
    dim = probe_grid.head_dim(gallery.shape, settings.grid.layer_mode)
    rows, spreads = [], []
    for method in settings.methods:
        head = attentive_heads.HeadConfig(method, dim, num_classes, **settings.heads.get(method, {}))
        by_queries: dict[str, list[scoring.Row]] = {name: [] for name in queries}
        for n, seed in enumerate(settings.seeds):
            correct, trained = 0, None
            for train, held in tasks:
                trained = probe_grid.train(head, settings.grid, train, seed=seed)
                correct = correct + (probe_grid.probabilities(trained, held).argmax(-1) == held.labels).sum(
                    -1
                )
            val_acc = correct / sum(len(held) for _, held in tasks)
            if not first_is_whole:
                trained = probe_grid.train(head, settings.grid, whole, seed=seed)
            best = int(np.argmax(val_acc))
            chosen = trained.members[best]
            selection = {
                "on": on,
                "rule": SELECTION_RULE,
                **_describe(chosen),
                "candidates": [
                    {**_describe(m), "validation_accuracy": float(a)}
                    for m, a in zip(trained.members, val_acc)
                ],
            }
            # The training loss stays in the log: trained weights agree across device counts only to
            # float rounding on CPU (the program's reductions compile per device count), so results.json
            # holds what they decide (selection, predictions), not their last digits.
            facts = {"epochs": settings.grid.epochs}
            for name, (data, ids) in query_sets.items():
                predictions = probe_grid.probabilities(trained, data).argmax(-1)  # [G, n]
                where = dataclasses.replace(key, queries=name, method=method, seed=seed, **_describe(chosen))
                row = scoring.score(
                    where, data.labels, predictions[best], ids, class_names, num_gallery=len(gallery)
                )
                roles = ("selected",) if n == 0 else ("selected", "other_seed")
                row = dataclasses.replace(row, roles=roles, selection=selection, facts={**row.facts, **facts})
                rows.append(row)
                by_queries[name].append(row)
                if settings.query_oracle:
                    rows.append(_oracle(row, predictions, trained.members, class_names, first=n == 0))
        for name, seeded in by_queries.items():
            spreads.append(_spread(seeded))
    return rows, spreads


@dataclasses.dataclass(frozen=True)
class GapChange:
    """Whether a token probe narrows the gap between a synthetic and a real gallery against the paper's
    KNN, on the same queries: each gap is accuracy(synthetic) − accuracy(real); `change` is the probe's
    gap minus KNN's, with a paired bootstrap interval over the query videos (stratified by class):
    positive where the synthetic gallery gains more from the probe than the real one (a gap of synthetic
    below real then narrows), negative where it gains less."""

    queries: str
    method: str
    synthetic: str
    real: str
    knn_gap: float
    probe_gap: float
    change: float
    ci95: tuple[float, float]


def gap_change(
    probe_syn: scoring.Row, probe_real: scoring.Row, knn_syn: scoring.Row, knn_real: scoring.Row
) -> GapChange:
    """The four rows' correctness on the same videos → the probe's gap against KNN's."""
    rows = (probe_syn, probe_real, knn_syn, knn_real)
    if any(not np.array_equal(r.ids, probe_syn.ids) for r in rows):
        raise ValueError("a gap change needs four rows on the same query videos")
    c = [r.correct.astype(np.float64) for r in rows]
    per_video = (c[0] - c[1]) - (c[2] - c[3])
    return GapChange(
        queries=probe_syn.queries,
        method=probe_syn.method,
        synthetic=probe_syn.gallery,
        real=probe_real.gallery,
        knn_gap=float(c[2].mean() - c[3].mean()),
        probe_gap=float(c[0].mean() - c[1].mean()),
        change=float(per_video.mean()),
        ci95=stats.bootstrap_ci(per_video, strata=probe_syn.labels),
    )


def _oracle(row, predictions, members, class_names, *, first: bool) -> scoring.Row:
    """The member best on the queries themselves: V-JEPA 2's reported number, optimistic by design."""
    labels, ids = row.labels, row.ids
    accuracy = (predictions == labels).mean(axis=1)
    best = int(np.argmax(accuracy))
    where = dataclasses.replace(
        row.key, method=row.method + scoring.ORACLE_SUFFIX, **_describe(members[best])
    )
    oracle = scoring.score(
        where, labels, predictions[best], ids, class_names, num_gallery=row.facts["num_gallery"]
    )
    selection = {"on": f"the queries themselves ({row.queries}): best of the grid, not a held-out choice"}
    roles = ("query_oracle",) if first else ("query_oracle", "other_seed")
    return dataclasses.replace(oracle, roles=roles, selection=selection)


def _spread(rows: list[scoring.Row]) -> SeedSpread:
    accuracies = [float(r.metrics["accuracy"]) for r in rows]
    return SeedSpread(
        gallery=rows[0].gallery,
        queries=rows[0].queries,
        method=rows[0].method,
        seeds=[r.key.seed for r in rows],
        accuracies=accuracies,
        mean=float(np.mean(accuracies)),
        std=float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0,
        min=min(accuracies),
        max=max(accuracies),
    )
