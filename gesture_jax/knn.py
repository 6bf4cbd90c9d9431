"""K-nearest-neighbour classification with the gallery sharded over every device.

Each device holds a slice of the gallery and finds its local top-k for every query (scanning its slice in
blocks, so memory stays at queries × block); the k·devices candidates are then merged into the global
top-k inside the same jit. Predictions are a majority vote with ties broken toward the smallest class
index, which is what scikit-learn's ``KNeighborsClassifier(algorithm="brute")`` with uniform weights
predicts.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from gesture_jax import parallel

METRICS = ("l2", "cosine")


def knn_classify(
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    queries: np.ndarray,
    *,
    k: int = 3,
    metric: str = "l2",
    num_classes: int | None = None,
    mesh: jax.sharding.Mesh | None = None,
) -> np.ndarray:
    """Predicted label of each query by a k-NN majority vote over the gallery.

    Args:
      gallery: [G, D] features. gallery_labels: [G] ints in [0, num_classes). queries: [Q, D].
      k: neighbours per query. metric: "l2" (Euclidean, as in the paper) or "cosine".
      num_classes: defaults to max(gallery_labels) + 1.
      mesh: 1-D ``data`` mesh to shard the gallery over (default: every device of every process).
    Returns:
      [Q] int32 numpy array of predicted labels.
    """
    gallery_labels = np.asarray(gallery_labels)
    if gallery_labels.ndim != 1 or len(gallery_labels) != len(gallery):
        raise ValueError(f"gallery_labels must have shape [{len(gallery)}], got {gallery_labels.shape}")
    if gallery_labels.dtype.kind == "f" and np.array_equal(gallery_labels, np.round(gallery_labels)):
        gallery_labels = gallery_labels.astype(np.int64)  # e.g. labels that went through a float array
    if not np.issubdtype(gallery_labels.dtype, np.integer) or (gallery_labels < 0).any():
        raise ValueError("gallery_labels must be non-negative integers")
    if num_classes is None:
        num_classes = int(gallery_labels.max()) + 1 if len(gallery_labels) else 0
    elif len(gallery_labels) and gallery_labels.max() >= num_classes:
        raise ValueError(
            f"gallery label {gallery_labels.max()} is out of range for num_classes={num_classes}"
        )
    neighbours = knn_neighbours(gallery, queries, k=k, metric=metric, mesh=mesh)
    votes = (gallery_labels[neighbours][..., None] == np.arange(num_classes)).sum(axis=1)
    return votes.argmax(axis=1).astype(np.int32)  # argmax returns the first maximum: the smallest label


def knn_neighbours(
    gallery: np.ndarray,
    queries: np.ndarray,
    *,
    k: int = 3,
    metric: str = "l2",
    mesh: jax.sharding.Mesh | None = None,
    query_block: int = 1024,
    gallery_block: int = 16384,
) -> np.ndarray:
    """Gallery indices [Q, k] of each query's k nearest neighbours, nearest first."""
    gallery = np.asarray(gallery, np.float32)
    queries = np.asarray(queries, np.float32)
    if metric not in METRICS:
        raise ValueError(f"unknown KNN metric {metric!r}; expected one of {METRICS}")
    if gallery.ndim != 2 or queries.ndim != 2 or gallery.shape[1] != queries.shape[1]:
        raise ValueError(
            f"expected gallery [G, D] and queries [Q, D], got {gallery.shape} and {queries.shape}"
        )
    if not 1 <= k <= len(gallery):
        raise ValueError(f"k={k} must be between 1 and the gallery size {len(gallery)}")
    if not (np.isfinite(gallery).all() and np.isfinite(queries).all()):
        raise ValueError("gallery and queries must be finite")
    mesh = parallel.make_mesh() if mesh is None else mesh

    if metric == "cosine":
        gallery, queries = _unit_rows(gallery), _unit_rows(queries)
        scale, bias = 1.0, np.zeros(len(gallery), np.float32)
    else:  # ‖q − g‖² = ‖q‖² − (2 q·g − ‖g‖²): rank by the bracket, which does not depend on the query.
        scale, bias = 2.0, -np.einsum("gd,gd->g", gallery, gallery)

    num_devices = mesh.devices.size
    per_device = max(math.ceil(len(gallery) / num_devices), k)
    block = per_device if per_device <= gallery_block else max(gallery_block, k)
    per_device = math.ceil(per_device / block) * block
    padded = per_device * num_devices
    gallery = np.pad(gallery, ((0, padded - len(gallery)), (0, 0)))
    bias = np.pad(bias, (0, padded - len(bias)), constant_values=-np.inf)  # padding never wins

    search = _search_fn(mesh, k, scale, block)
    g = parallel.shard_rows(gallery, mesh)
    b = parallel.shard_rows(bias, mesh)
    num_queries = len(queries)
    query_block = min(query_block, num_queries) or 1
    queries = np.pad(queries, ((0, -num_queries % query_block), (0, 0)))  # one shape, one compile
    out = [
        search(parallel.replicate(queries[i : i + query_block], mesh), g, b)
        for i in range(0, len(queries), query_block)
    ]
    return np.concatenate([parallel.to_host(o) for o in out])[:num_queries]


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm == 0, 1, norm)  # zero rows stay zero, as scikit-learn's cosine distance does


@functools.lru_cache(maxsize=None)
def _search_fn(mesh: jax.sharding.Mesh, k: int, scale: float, block: int):
    """Jitted search for one mesh and k; recompiles only when the query block or gallery shape changes."""

    def local_top_k(q, g, b):
        # q: [Q, D] replicated; g: [L, D] and b: [L], this device's gallery slice scanned in blocks.
        offset = jax.lax.axis_index(parallel.DATA) * g.shape[0]
        g_blocks = g.reshape(-1, block, g.shape[1])
        b_blocks = b.reshape(-1, block)

        def step(carry, xs):
            best_s, best_i = carry
            g_j, b_j, j = xs
            s = scale * jnp.dot(q, g_j.T, precision=jax.lax.Precision.HIGHEST) + b_j
            s_j, i_j = jax.lax.top_k(s, k)
            # Earlier candidates come first, so on equal scores the smaller gallery index wins.
            s_all = jnp.concatenate([best_s, s_j], axis=1)
            i_all = jnp.concatenate([best_i, i_j + j * block + offset], axis=1)
            s_top, pos = jax.lax.top_k(s_all, k)
            return (s_top, jnp.take_along_axis(i_all, pos, axis=1)), None

        init = (jnp.full((q.shape[0], k), -jnp.inf, q.dtype), jnp.zeros((q.shape[0], k), jnp.int32))
        init = jax.lax.pcast(init, parallel.DATA, to="varying")  # the carry differs per device
        num_blocks = g_blocks.shape[0]
        (s, i), _ = jax.lax.scan(step, init, (g_blocks, b_blocks, jnp.arange(num_blocks, dtype=jnp.int32)))
        return s, i

    sharded = jax.shard_map(
        local_top_k,
        mesh=mesh,
        in_specs=(P(), P(parallel.DATA), P(parallel.DATA)),
        out_specs=(P(None, parallel.DATA), P(None, parallel.DATA)),
    )

    @jax.jit
    def search(q, g, b):
        s, i = sharded(q, g, b)  # [Q, k · devices], device-major, so smaller indices come first
        s = jax.lax.with_sharding_constraint(s, parallel.replicated(mesh))
        i = jax.lax.with_sharding_constraint(i, parallel.replicated(mesh))
        _, pos = jax.lax.top_k(s, k)
        return jnp.take_along_axis(i, pos, axis=1)

    return search
