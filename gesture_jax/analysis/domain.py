"""How far apart two sets of video features are: numbers for the synthetic ↔ real gap.

Every function takes numpy feature arrays ``[n, d]`` as the compared rows see them (L2-normalise first,
`as_metric`, when the row's metric is cosine) and returns plain floats, computed in float64:

* `mmd2`: unbiased squared maximum mean discrepancy with an RBF kernel (Gretton et al., JMLR 2012);
  `mmd2_test` adds a permutation p-value. 0 in expectation for one distribution (it can be slightly
  negative), larger the further apart the two are.
* `frechet_distance`: the Fréchet distance of the Gaussians fitted to each set (the FID formula).
* `proxy_a_distance`: 2(1 − 2ε) with ε the cross-validated error of a linear classifier told to separate
  the two sets (Ben-David et al., 2007): about 0 when it cannot, 2 when it always can.
* `class_gaps`: per class, the distance between the two sets' class centroids beside each class's spread.
* `neighbour_provenance`: for a mixed gallery, how many of each query's k neighbours are synthetic, and
  how many are of the query's class.

Large sets are subsampled deterministically (`subsample`) by the caller, which states it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

METRICS = ("l2", "cosine")


def as_metric(x: np.ndarray, metric: str) -> np.ndarray:
    """Features as a row with `metric` compares them: unit rows for cosine, as they are for l2."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    x = np.asarray(x, np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norms > 0, norms, 1.0)
    return x


def subsample(n: int, max_n: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most `max_n` of `n` items, the same for the same (n, max_n, seed)."""
    if max_n is None or n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_n, replace=False))


def _pair(x: np.ndarray, y: np.ndarray, *, min_rows: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected two feature arrays [n, d] of the same d, got {x.shape} and {y.shape}")
    if len(x) < min_rows or len(y) < min_rows:
        raise ValueError(f"need at least {min_rows} rows in each set, got {len(x)} and {len(y)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("features must be finite")
    return x, y


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def median_bandwidth(x: np.ndarray, y: np.ndarray) -> float:
    """σ of the median heuristic: the median Euclidean distance over distinct pairs of the pooled sample."""
    pooled = np.concatenate([x, y]).astype(np.float64)
    d = _squared_distances(pooled, pooled)[np.triu_indices(len(pooled), 1)]
    sigma = float(np.sqrt(np.median(d)))
    if sigma == 0.0:
        raise ValueError("the median pairwise distance is 0 (most points coincide): pass a bandwidth")
    return sigma


def _mmd2_from_kernel(k: np.ndarray, m: int) -> float:
    """Unbiased MMD² from the pooled kernel matrix, the first `m` rows being the first set."""
    n = len(k) - m
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def mmd2(x: np.ndarray, y: np.ndarray, *, bandwidth: float | None = None) -> float:
    """Unbiased MMD² between the rows of `x` and of `y` with k(a, b) = exp(−‖a − b‖² / (2σ²)); σ =
    `bandwidth`, or the median pairwise distance of the pooled sample (`median_bandwidth`) when None."""
    x, y = _pair(x, y, min_rows=2)
    sigma = median_bandwidth(x, y) if bandwidth is None else float(bandwidth)
    pooled = np.concatenate([x, y])
    return _mmd2_from_kernel(np.exp(-_squared_distances(pooled, pooled) / (2 * sigma**2)), len(x))


def mmd2_test(
    x: np.ndarray,
    y: np.ndarray,
    *,
    bandwidth: float | None = None,
    num_permutations: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """`mmd2` with a permutation p-value: the share of random relabellings of the pooled rows whose MMD²
    reaches the observed one, (1 + count) / (1 + permutations). The bandwidth is fixed from the pooled
    sample, so every relabelling uses the same kernel."""
    x, y = _pair(x, y, min_rows=2)
    sigma = median_bandwidth(x, y) if bandwidth is None else float(bandwidth)
    pooled = np.concatenate([x, y])
    k = np.exp(-_squared_distances(pooled, pooled) / (2 * sigma**2))
    observed = _mmd2_from_kernel(k, len(x))
    rng = np.random.default_rng(seed)
    count = 0
    for _ in range(num_permutations):
        order = rng.permutation(len(pooled))
        count += _mmd2_from_kernel(k[np.ix_(order, order)], len(x)) >= observed
    return {
        "mmd2": observed,
        "p_value": (1 + count) / (1 + num_permutations),
        "bandwidth": sigma,
        "num_permutations": num_permutations,
    }


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """‖μx − μy‖² + Tr(Σx + Σy − 2(ΣxΣy)^½) of the Gaussians fitted to `x` and `y` (covariances with
    ddof = 1), in float64. The trace of (ΣxΣy)^½ is computed as that of (Σx^½ Σy Σx^½)^½, whose matrix
    is symmetric positive semi-definite, so no complex square root (the usual source of NaN) arises."""
    x, y = _pair(x, y, min_rows=2)
    mx, my = x.mean(0), y.mean(0)
    cx, cy = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    sqrt_cx = _psd_sqrt(cx)
    middle = sqrt_cx @ cy @ sqrt_cx
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    return float(((mx - my) ** 2).sum() + np.trace(cx) + np.trace(cy) - 2.0 * tr_sqrt)


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((c + c.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def proxy_a_distance(x: np.ndarray, y: np.ndarray, *, seed: int = 0, num_folds: int = 5) -> float:
    """2(1 − 2ε), ε the error of a linear domain classifier (logistic regression on standardised features,
    scikit-learn) over `num_folds` stratified folds (shuffled with `seed`).

    Pitfalls: it measures separability, not distance, so it saturates at 2 as soon as any direction
    separates the sets (in high dimension with few rows, almost always: compare it between encoders at
    equal set sizes, never across sizes); it depends on the classifier and its regularisation; below 0
    when the classifier does worse than chance, which with few rows is noise. Read it beside `mmd2`.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _pair(x, y, min_rows=num_folds)
    features = np.concatenate([x, y])
    domain = np.r_[np.zeros(len(x), int), np.ones(len(y), int)]
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(n_splits=num_folds, shuffle=True, random_state=seed)
    accuracy = cross_val_score(classifier, features, domain, cv=folds, scoring="accuracy").mean()
    return float(2.0 * (1.0 - 2.0 * (1.0 - accuracy)))


def class_gaps(
    x: np.ndarray, x_labels: np.ndarray, y: np.ndarray, y_labels: np.ndarray, class_names
) -> list[dict[str, Any]]:
    """Per class present in both sets: the Euclidean distance between its centroid in `x` and in `y`,
    beside its spread in each (mean distance of its rows to their own centroid) and their ratio
    (distance / mean spread: above 1, the class's two clouds sit apart)."""
    x, y = _pair(x, y, min_rows=1)
    x_labels, y_labels = np.asarray(x_labels), np.asarray(y_labels)
    out = []
    for c, name in enumerate(class_names):
        a, b = x[x_labels == c], y[y_labels == c]
        if not len(a) or not len(b):
            continue
        ca, cb = a.mean(0), b.mean(0)
        spread_a = float(np.linalg.norm(a - ca, axis=1).mean())
        spread_b = float(np.linalg.norm(b - cb, axis=1).mean())
        distance = float(np.linalg.norm(ca - cb))
        mean_spread = (spread_a + spread_b) / 2
        out.append(
            {
                "class": name,
                "count_x": int(len(a)),
                "count_y": int(len(b)),
                "centroid_distance": distance,
                "spread_x": spread_a,
                "spread_y": spread_b,
                "distance_over_spread": distance / mean_spread if mean_spread > 0 else float("inf"),
            }
        )
    return out


def neighbour_provenance(
    neighbours: np.ndarray,
    gallery_is_synthetic: np.ndarray,
    gallery_labels: np.ndarray,
    query_labels: np.ndarray,
) -> dict[str, Any]:
    """Where each query's neighbours in a mixed gallery come from, given their indices ``[Q, k]``
    (`gesture_jax.analysis.knn.knn_neighbours`): the share that is synthetic, the share of the query's class,
    and, among the synthetic and the real neighbours, the share of the query's class. Means over the
    queries, and per query (`per_query_synthetic_share`)."""
    neighbours = np.asarray(neighbours)
    synthetic = np.asarray(gallery_is_synthetic, bool)[neighbours]
    same = np.asarray(gallery_labels)[neighbours] == np.asarray(query_labels)[:, None]

    def share(hit, among):
        total = among.sum()
        return float((hit & among).sum() / total) if total else float("nan")

    return {
        "k": int(neighbours.shape[1]),
        "num_queries": int(len(neighbours)),
        "synthetic_share": float(synthetic.mean()),
        "same_class_share": float(same.mean()),
        "same_class_share_of_synthetic": share(same, synthetic),
        "same_class_share_of_real": share(same, ~synthetic),
        "per_query_synthetic_share": synthetic.mean(1).tolist(),
    }
