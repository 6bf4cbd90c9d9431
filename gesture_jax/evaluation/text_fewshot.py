"""Text + a few examples: zero-shot class embeddings combined with prototypes of a few labelled videos.

    score_c(v) = (1 − λ)·cos(v, t_c) + λ·cos(v, p_c)

t_c is class c's text embedding (a prompt set's ensemble), p_c the normalised mean of the normalised
features of its example videos (synthetic or real). λ = 0 is zero-shot (text only), λ = 1 the nearest
prototype (examples only). Both terms are cosines, so λ weighs like against like. λ is chosen per
gallery draw on a validation split's videos that are not in the draw, never on the queries: the
highest validation accuracy, a tie going to the smaller λ (the text side, which needs no examples).

This is the prototype form of text + few-shot (as in CLIP's linear-probe-from-text initialisations
and Tip-Adapter's mixing of a zero-shot term with an example term); with one example per class, a
prototype is that example, so it is Tip-Adapter with a nearest-example cache at its sharpest.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from gesture_jax.evaluation import method_rows, scoring
from gesture_jax.features.extraction import VideoVectors

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def prototypes(gallery: VideoVectors, num_classes: int, class_names: Sequence[str]) -> np.ndarray:
    """[C, E]: each class's normalised mean of normalised example features (every class needs one)."""
    missing = [class_names[c] for c in range(num_classes) if not (gallery.labels == c).any()]
    if missing:
        raise ValueError(f"no example videos of {missing} in the gallery: text + examples needs each class")
    x = _normalize(gallery.vectors)
    return _normalize(np.stack([x[gallery.labels == c].mean(axis=0) for c in range(num_classes)]))


def scores(vectors: np.ndarray, text: np.ndarray, protos: np.ndarray, weight: float) -> np.ndarray:
    """[N, C] mixed cosine scores."""
    v = _normalize(vectors)
    return (1.0 - weight) * (v @ _normalize(text).T) + weight * (v @ protos.T)


def choose_weight(
    validation: VideoVectors, text: np.ndarray, protos: np.ndarray, weights: Sequence[float]
) -> tuple[float, list[float]]:
    """(the chosen λ, validation accuracy of every candidate in `weights` order)."""
    if not len(validation):
        raise ValueError(
            "no validation videos left to choose the mixing weight on: every video of the validation split "
            "is in the gallery draw (use another zeroshot.fewshot.validation_splits entry, or fewer shots)"
        )
    acc = [
        float((scores(validation.vectors, text, protos, w).argmax(1) == validation.labels).mean())
        for w in weights
    ]
    best = max(acc)
    return min(w for w, a in zip(weights, acc) if a == best), acc


def rows(
    pool: VideoVectors,
    queries: VideoVectors,
    validation: VideoVectors,
    text: np.ndarray,
    *,
    shots: int,
    num_seeds: int,
    weights: Sequence[float],
    class_names: Sequence[str],
    key: scoring.RowKey,
    text_only: np.ndarray,
    validation_name: str,
) -> list[scoring.Row]:
    """Text + examples, examples only and text only on the same queries, from the same nested draws of
    `shots` videos per class from `pool` (one per seed; all videos once for `method_rows.ALL`); `key`
    names the encoder state, the pool (its gallery), the queries and the prompt set of `text`."""
    mixed, examples, chosen = [], [], []
    for seed in range(num_seeds if shots != method_rows.ALL else 1):
        index = method_rows.sample_per_class(pool.labels, shots, seed)
        gallery = pool.take(index)
        protos = prototypes(gallery, len(class_names), class_names)
        keep = ~np.isin(validation.ids, gallery.ids)
        held = validation.take(keep)
        weight, val_acc = choose_weight(held, text, protos, weights)
        chosen.append(
            {"seed": seed, "weight": weight, "validation_accuracy": val_acc, "validation_videos": len(held)}
        )
        mixed.append(scores(queries.vectors, text, protos, weight).argmax(1))
        examples.append(scores(queries.vectors, text, protos, 1.0).argmax(1))
    name = key.gallery + (f"[{shots}/class]" if shots != method_rows.ALL else "")
    key = dataclasses.replace(key, gallery=name, shots=shots, metric="cosine")
    selection = {
        "on": validation_name,
        "rule": "the highest validation accuracy; a tie goes to the smaller weight (towards text only)",
        "candidates": list(weights),
        "per_draw": chosen,
    }
    labels, ids = queries.labels, queries.ids
    facts = {"validation": validation_name}
    mixed_row = scoring.score(
        dataclasses.replace(key, method="text_fewshot"), labels, np.stack(mixed), ids, class_names, **facts
    )
    examples_key = dataclasses.replace(key, method="prototype", weight=1.0)
    # the same for every draw; as [S, N] it sits in the table beside the other two alike
    text_key = dataclasses.replace(key, method="zeroshot", metric="zeroshot", weight=0.0)
    text_predictions = np.broadcast_to(text_only, (len(mixed), len(ids)))
    return [
        dataclasses.replace(mixed_row, selection=selection),
        scoring.score(examples_key, labels, np.stack(examples), ids, class_names, **facts),
        scoring.score(text_key, labels, text_predictions, ids, class_names, **facts),
    ]
