"""Few-shot galleries: n videos per class drawn from a split, reproducibly, and accuracy over seeds."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

ALL = 0  # shots = 0 means every video of the split


def sample_per_class(
    labels: np.ndarray, shots: int, seed: int, classes: Sequence[int] | None = None
) -> np.ndarray:
    """Sorted indices of `shots` videos of each class (all of a class that has fewer; all for `ALL`).

    The draw depends only on (seed, shots, class), so adding seeds or shot counts never changes the
    galleries already drawn.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels) if classes is None else classes
    picked = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        if shots == ALL or len(members) <= shots:
            picked.append(members)
        else:
            rng = np.random.default_rng([seed, shots, int(c)])
            picked.append(rng.choice(members, size=shots, replace=False))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, int)


def aggregate(rows: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """One row from per-seed rows of the same setting: mean (and std) of the accuracies, summed confusion."""
    first = rows[0]
    accuracy = np.array([r["accuracy"] for r in rows])
    mean_class = np.array([r["mean_class_accuracy"] for r in rows])
    per_class = {
        name: (float(np.mean(values)) if values else None)
        for name in first["class_names"]
        for values in [
            [r["per_class_accuracy"][name] for r in rows if r["per_class_accuracy"][name] is not None]
        ]
    }
    return {
        **{k: v for k, v in first.items() if k not in ("accuracy", "mean_class_accuracy", "confusion")},
        **fields,
        "accuracy": float(accuracy.mean()),
        "accuracy_std": float(accuracy.std()),
        "mean_class_accuracy": float(mean_class.mean()),
        "mean_class_accuracy_std": float(mean_class.std()),
        "per_class_accuracy": per_class,
        "confusion": np.sum([r["confusion"] for r in rows], axis=0).tolist(),  # over all seeds
        "num_seeds": len(rows),
    }
