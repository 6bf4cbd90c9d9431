"""Classifiers on frozen features: weighted k-NN, nearest class mean and a linear (logistic) probe.

These are the standard ways to read out what a frozen encoder has learned: k-NN with uniform votes
(the paper's protocol, `knn.knn_classify`), with inverse-distance votes (scikit-learn's
``weights="distance"``) or with DINO's temperature-scaled cosine votes (Caron et al. 2021); the nearest
class mean (scikit-learn's ``NearestCentroid``; on L2-normalised features as in SimpleShot, Wang et al.
2019); and a multinomial logistic-regression probe fitted by L-BFGS (optax) on standardised features, as
in the linear evaluations of CLIP (Radford et al. 2021), which use scikit-learn's ``LogisticRegression``.
Every classifier returns int32 labels, and every tie goes to the smallest class index, so results are
deterministic and follow the same rule as the uniform k-NN vote.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gesture_jax.analysis import knn
from gesture_jax.infra import parallel

VOTES = ("uniform", "distance", "temperature")


def knn_predict(
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    queries: np.ndarray,
    *,
    k: int,
    metric: str = "l2",
    votes: str = "uniform",
    temperature: float = 0.07,
    num_classes: int,
    mesh: jax.sharding.Mesh | None = None,
    neighbours: np.ndarray | None = None,
) -> np.ndarray:
    """[Q] int32 labels by a k-NN vote; the neighbours come from the sharded search of `knn`, or from
    `neighbours` ([Q, k] gallery indices, nearest first), so a sweep over k searches once.

    votes: "uniform" is exactly `knn.knn_classify`. "distance" weighs each neighbour by 1/d (Euclidean
    distance for l2, 1 − cos for cosine); a query with neighbours at d = 0 counts only those, one vote each
    (scikit-learn's rule). "temperature" weighs by exp(cos / temperature), DINO's ``eval_knn.py``; it needs
    metric="cosine". Weights are recomputed on the host in float64 from the k chosen neighbours.
    """
    if votes not in VOTES:
        raise ValueError(f"unknown votes {votes!r}; expected one of {VOTES}")
    if votes == "temperature" and metric != "cosine":
        raise ValueError(
            f"votes='temperature' (DINO's weighted k-NN) requires metric='cosine', got {metric!r}"
        )
    if votes == "temperature" and not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    gallery, queries = np.asarray(gallery, np.float32), np.asarray(queries, np.float32)
    labels = _labels(gallery_labels, len(gallery), num_classes, "gallery_labels")
    if not 1 <= k <= len(gallery):
        raise ValueError(f"k={k} must be between 1 and the gallery size {len(gallery)}")
    if neighbours is not None and np.shape(neighbours) != (len(queries), k):
        raise ValueError(f"neighbours must be [{len(queries)}, {k}], got {np.shape(neighbours)}")
    if votes == "uniform" and neighbours is None:
        return knn.knn_classify(
            gallery, labels, queries, k=k, metric=metric, num_classes=num_classes, mesh=mesh
        )
    if neighbours is None:
        neighbours = knn.knn_neighbours(gallery, queries, k=k, metric=metric, mesh=mesh)
    if votes == "uniform":
        return knn.majority_vote(labels[neighbours], num_classes)
    scores = np.zeros((len(queries), num_classes))
    block = max(1, 2**22 // (k * max(gallery.shape[1], 1)))  # bounds the [block, k, D] float64 copy
    for start in range(0, len(queries), block):
        q = queries[start : start + block].astype(np.float64)
        idx = neighbours[start : start + block]
        g = gallery[idx].astype(np.float64)  # [B, k, D]
        if metric == "cosine":
            cos = np.einsum("bkd,bd->bk", _unit(g), _unit(q))
            if votes == "temperature":  # minus the best similarity: no overflow, same argmax
                weights = np.exp((cos - cos.max(axis=1, keepdims=True)) / temperature)
            else:
                weights = _inverse_distance(np.clip(1.0 - cos, 0.0, 2.0))
        else:
            weights = _inverse_distance(np.sqrt(np.square(g - q[:, None]).sum(axis=2)))
        rows, block_scores = np.arange(len(q)), scores[start : start + block]
        for j in range(k):  # nearest first: a fixed summation order
            block_scores[rows, labels[idx[:, j]]] += weights[:, j]
    return scores.argmax(axis=1).astype(np.int32)  # first maximum: the smallest class index


def prototype_predict(
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    queries: np.ndarray,
    *,
    metric: str = "l2",
    num_classes: int,
) -> np.ndarray:
    """[Q] int32 labels of the nearest class mean (l2), or of the most cosine-similar mean of the
    L2-normalised gallery features (cosine). Classes absent from the gallery are never predicted."""
    if metric not in knn.METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {knn.METRICS}")
    gallery, queries = np.asarray(gallery, np.float64), np.asarray(queries, np.float64)
    if gallery.ndim != 2 or queries.ndim != 2 or gallery.shape[1] != queries.shape[1]:
        raise ValueError(
            f"expected gallery [G, D] and queries [Q, D], got {gallery.shape} and {queries.shape}"
        )
    labels = _labels(gallery_labels, len(gallery), num_classes, "gallery_labels")
    if metric == "cosine":
        gallery, queries = _unit(gallery), _unit(queries)
    counts = np.bincount(labels, minlength=num_classes)
    sums = np.zeros((num_classes, gallery.shape[1]))
    np.add.at(sums, labels, gallery)
    means = sums / np.maximum(counts, 1)[:, None]
    if metric == "cosine":  # a zero mean (e.g. opposite unit vectors) has similarity 0, as a zero row
        scores = queries @ _unit(means).T
    else:  # −‖q − μ‖² up to the per-query ‖q‖², which does not change the ranking
        scores = 2 * queries @ means.T - np.square(means).sum(axis=1)
    scores[:, counts == 0] = -np.inf
    return scores.argmax(axis=1).astype(np.int32)


@dataclasses.dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class LinearProbe:
    """Multinomial logistic regression on standardised features: logits = ((x − mean) / scale) W + b.

    A class absent from the training set has bias −inf, so it is never predicted.
    """

    weights: np.ndarray  # [D, C] float32
    bias: np.ndarray  # [C] float32
    mean: np.ndarray  # [D] float64, of the training features
    scale: np.ndarray  # [D] float64, their standard deviation floored at _MIN_SCALE
    weight_decay: float
    steps: int = 0  # L-BFGS iterations taken
    grad_norm: float = math.nan  # ‖∇loss‖ at the end: ≥ tol means max_steps stopped the fit


_MIN_SCALE = 1e-6  # constant features stay (near) zero instead of dividing by zero


def fit_linear_probe(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    weight_decays: Sequence[float],
    mesh: jax.sharding.Mesh | None = None,
    max_steps: int = 300,
    tol: float = 1e-5,
) -> list[LinearProbe]:
    """One probe per weight decay λ, minimising mean softmax cross-entropy + λ/2 ‖W‖² (bias free).

    All λ are fitted in one jitted call, one after another, by full-batch L-BFGS from W = b = 0, stopping
    after `max_steps` iterations or when ‖∇loss‖ < tol. This is scikit-learn's
    ``LogisticRegression(C=1 / (λ N))`` on the standardised features: its objective C Σ CE + ½ ‖W‖² is
    ours divided by λ, so the minimiser is the same. Features are standardised with the training mean and
    standard deviation (float64, on the host), which the probe keeps for prediction. `mesh` only picks the
    device: the fit is small and runs whole on one device (see below), identically for any mesh size.
    """
    features = np.asarray(features, np.float32)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(f"expected features [N, D] with N ≥ 1, got {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("features must be finite")
    labels = _labels(labels, len(features), num_classes, "labels")
    decays = np.asarray(weight_decays, np.float64)
    if decays.ndim != 1 or len(decays) == 0 or not (np.isfinite(decays) & (decays >= 0)).all():
        raise ValueError(f"weight_decays must be a non-empty list of finite values ≥ 0, got {weight_decays}")
    mesh = parallel.make_mesh() if mesh is None else mesh
    # The fit runs whole on one device of the mesh (this process's first; every process computes the
    # same), so the probes are bit-identical for any mesh size. Row-sharding would reduce partial sums in
    # an order that depends on the device count; even replicated inputs on an 8-device mesh compile (SPMD,
    # 8 partitions) to a differently fused program whose rounding differs from the 1-device one.
    device = next(d for d in mesh.devices.flat if d.process_index == jax.process_index())
    mean, scale, inputs = fit_inputs(features, labels, num_classes)
    args = (*inputs, decays.astype(np.float32))
    out = _fit(*jax.device_put(args, device), num_classes=num_classes, max_steps=max_steps, tol=float(tol))
    weights, bias, steps, grad_norm = (np.asarray(o) for o in out)
    return [
        LinearProbe(weights[i], bias[i], mean, scale, float(decays[i]), int(steps[i]), float(grad_norm[i]))
        for i in range(len(decays))
    ]


def fit_inputs(features: np.ndarray, labels: np.ndarray, num_classes: int):
    """What the L-BFGS fit reads, from checked float32 features [N, D] and int labels [N]: the training
    mean and scale (float64), and (x, y, weight, present) as `lbfgs_solve` takes them."""
    mean = features.mean(axis=0, dtype=np.float64)
    scale = np.maximum(features.std(axis=0, dtype=np.float64), _MIN_SCALE)
    # Rows are padded (weight 0) to a size bucket, so the folds of a cross-validation and the whole
    # gallery, whose sizes differ by a few videos, share one compilation.
    n, rows = len(features), parallel.padded_size(len(features))
    x = np.zeros((rows, features.shape[1]), np.float32)
    x[:n] = _standardise(features, mean, scale)
    y = np.full(rows, labels[0], np.int32)  # a present class: an absent one's −inf logit would give 0 · inf
    y[:n] = labels
    weight = (np.arange(rows) < n).astype(np.float32) / n
    present = np.bincount(labels, minlength=num_classes) > 0
    return mean, scale, (x, y, weight, present)


def linear_probe_logits(probe: LinearProbe, queries: np.ndarray) -> np.ndarray:
    """[Q, C] float64 logits, computed on the host (no device, no compile, deterministic)."""
    x = _standardise(np.asarray(queries, np.float32), probe.mean, probe.scale).astype(np.float64)
    return x @ probe.weights.astype(np.float64) + probe.bias


def linear_probe_predict(probe: LinearProbe, queries: np.ndarray) -> np.ndarray:
    """[Q] int32 labels: the largest logit, ties → the smallest class index."""
    return linear_probe_logits(probe, queries).argmax(axis=1).astype(np.int32)


def stratified_folds(labels: np.ndarray, num_folds: int = 5, seed: int = 0) -> list[np.ndarray]:
    """`num_folds` sorted index arrays that partition range(N), each class spread evenly over the folds.

    Each class's members are shuffled (by `seed`) and dealt round-robin, continuing where the previous
    class stopped, so class counts per fold differ by at most one and so do fold sizes. For cross-validated
    choices (k, λ) on a gallery that has no validation split.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not 2 <= num_folds <= len(labels):
        raise ValueError(f"need 2 ≤ num_folds ≤ N labels, got num_folds={num_folds} and {labels.shape}")
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)])
    fold_of = np.empty(len(labels), np.int64)
    fold_of[order] = np.arange(len(order)) % num_folds
    return [np.flatnonzero(fold_of == f) for f in range(num_folds)]


def _labels(labels: np.ndarray, n: int, num_classes: int, name: str) -> np.ndarray:
    """Labels as int64 in [0, num_classes), accepting integer values held in a float array (as knn)."""
    labels = np.asarray(labels)
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"{name} must have shape [{n}], got {labels.shape}")
    if labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels)):
        labels = labels.astype(np.int64)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{name} must lie in [0, num_classes={num_classes}), got {labels.min()}..{labels.max()}"
        )
    return labels.astype(np.int64)


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm == 0, 1, norm)  # zero rows stay zero, as in knn and scikit-learn


def _inverse_distance(d: np.ndarray) -> np.ndarray:
    """1 / d, except that a row with any d = 0 counts only those neighbours, weight 1 (scikit-learn)."""
    zero = d == 0
    with np.errstate(divide="ignore"):
        return np.where(zero.any(axis=1, keepdims=True), zero.astype(np.float64), 1.0 / d)


def _standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return ((x - mean) / scale).astype(np.float32)  # float64 arithmetic, float32 for the device


@functools.partial(jax.jit, static_argnames=("num_classes", "max_steps", "tol"))
def _fit(x, y, weight, present, weight_decays, *, num_classes: int, max_steps: int, tol: float):
    """The L-BFGS fits, one per λ; jit compiles them once per (row bucket, D, number of weight decays) and
    device. `weight`: 1/N for the N real rows, 0 for padding."""
    solve = functools.partial(
        lbfgs_solve, x, y, weight, present, num_classes=num_classes, max_steps=max_steps, tol=tol
    )
    # One λ after another (lax.map), not vmap: a vmapped while loop steps every λ until the slowest stops
    # and turns each branch of the line search into a select over both. On CPU the vmapped fits took
    # 1.2–3.6× as long on toy galleries, their first call (tracing, compiling) 1.7–2× (bench/linear_probe.py).
    return jax.lax.map(solve, weight_decays)


def lbfgs_solve(x, y, weight, present, weight_decay, *, num_classes: int, max_steps: int, tol: float):
    """One λ's fit (traceable): (W, b with −inf for absent classes, iterations, final ‖∇loss‖)."""

    def loss(params):
        w, b = params
        logits = jnp.dot(x, w, precision=jax.lax.Precision.HIGHEST) + b
        logits = jnp.where(present, logits, -jnp.inf)  # absent classes: no pull of b toward −inf
        cross_entropy = jnp.sum(weight * optax.softmax_cross_entropy_with_integer_labels(logits, y))
        return cross_entropy + 0.5 * weight_decay * jnp.sum(w * w)

    opt = optax.lbfgs()  # zoom line search (strong Wolfe), memory 10
    value_and_grad = optax.value_and_grad_from_state(loss)  # reuses the line search's evaluation

    def step(carry):
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=loss)
        return optax.apply_updates(params, updates), state

    def grad_norm(state):
        return optax.tree.norm(optax.tree.get(state, "grad"))

    def keep_going(carry):
        count = optax.tree.get(carry[1], "count")
        return (count == 0) | ((count < max_steps) & (grad_norm(carry[1]) >= tol))

    params = (jnp.zeros((x.shape[1], num_classes)), jnp.zeros(num_classes))
    (w, b), state = jax.lax.while_loop(keep_going, step, (params, opt.init(params)))
    return w, jnp.where(present, b, -jnp.inf), optax.tree.get(state, "count"), grad_norm(state)
