"""The rows of single methods: the paper's KNN row, few-shot galleries drawn per seed, a classifier
head's row (zero-shot rows use `scoring.score` directly)."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from gesture_jax.analysis import knn
from gesture_jax.evaluation import scoring
from gesture_jax.features.extraction import VideoVectors

ALL = 0  # shots = 0: every video of the split


def knn_row(
    gallery: VideoVectors,
    queries: VideoVectors,
    *,
    k: int,
    metric: str,
    class_names: Sequence[str],
    mesh,
    key: scoring.RowKey,
    query_mask: np.ndarray | None = None,
    neighbours: np.ndarray | None = None,
) -> scoring.Row:
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
    key = dataclasses.replace(key, method="knn", k=k, metric=metric)
    return scoring.score(
        key, queries.labels[mask], predictions, queries.ids[mask], class_names, num_gallery=len(gallery)
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
    key: scoring.RowKey,
    base: VideoVectors | None = None,
    query_mask: np.ndarray | None = None,
) -> scoring.Row:
    """KNN from `shots` videos per class drawn from `pool` (added to `base` when given), once per seed
    (once for `ALL`): one row over the draws (mean, std, and an interval over draws and queries)."""
    per_seed = []
    for seed in range(num_seeds if shots != ALL else 1):
        index = sample_per_class(pool.labels, shots, seed)
        gallery = pool.take(index)
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
                key=key,
                query_mask=query_mask,
            )
        )
    first = per_seed[0]
    predictions = np.stack([r.predictions for r in per_seed])
    key = dataclasses.replace(first.key, shots=shots)
    return scoring.score(key, first.labels, predictions, first.ids, class_names, **first.facts)


def head_row(logits: VideoVectors, kept: Sequence[int], class_names, *, key: scoring.RowKey) -> scoring.Row:
    """A classifier head's row on the videos of the classes it was trained on (`kept`, dataset labels)."""
    labels, predictions = head_predictions(logits, kept)
    keep = np.isin(logits.labels, kept)
    key = dataclasses.replace(key, method="head", metric="head")
    return scoring.score(key, labels, predictions, logits.ids[keep], class_names)


def head_predictions(logits: VideoVectors, kept: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, head predictions) of the videos of the kept classes, both as dataset labels."""
    keep = np.isin(logits.labels, kept)
    return logits.labels[keep], np.asarray(kept)[logits.vectors[keep].argmax(1)]
