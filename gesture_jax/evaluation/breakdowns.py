"""Per-group accuracies of a row: by query metadata, and by where the nearest gallery video comes from."""

from __future__ import annotations

from typing import Any

import numpy as np

from gesture_jax.analysis import knn, stats
from gesture_jax.evaluation import scoring
from gesture_jax.features.extraction import VideoVectors


def breakdowns(row: scoring.Row, groups: dict[str, np.ndarray]) -> dict[str, list[dict[str, Any]]]:
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
