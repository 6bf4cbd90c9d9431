"""K-nearest-neighbour classification with the gallery sharded over every device.

Each device holds a slice of the gallery and finds its local top-k for every query (scanning its slice in
blocks, so memory stays at queries × block); the k·devices candidates are then merged into the global
top-k inside the same jit. Predictions are a majority vote with ties broken toward the smallest class
index, which is what scikit-learn's ``KNeighborsClassifier(algorithm="brute")`` with uniform weights
predicts.

The search is exact but does most of its arithmetic in bfloat16 (`screen=True`, the default): a bfloat16
product ranks the gallery within a proven error bound, the few rows whose bound reaches the k-th best are
scored again in float32, and a query whose candidates cannot be proven to hold its k nearest (the bound
certifies it; rare outside near-duplicate galleries) is searched again in float32 alone. The neighbours
are those of the float32 search, tie rule included; bfloat16 halves the bytes and, where the CPU has
bfloat16 dot instructions or on GPU/TPU, about doubles the matmul's speed (bench/knn.py).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from gesture_jax.infra import parallel

METRICS = ("l2", "cosine")
SCREEN_CANDIDATES = 16  # rows per query (and device) that the bfloat16 screen passes to float32 scoring
SCREEN_CHUNK = 32  # the screen's two-pass top-k chunk (measured: half the time of 128 for 16 of ~16K)


def screen_slack(dim: int) -> float:
    """c with |bfloat16-screened − float32 q·g| ≤ c · ‖q‖ · ‖g‖ for `dim`-long rows.

    Rounding q and g to bfloat16 (unit roundoff u = 2^-8) moves each product q_i g_i by at most
    (2u + u²)|q_i g_i|; accumulating in float32, as every bfloat16 matmul with a float32 result does,
    adds at most γ = dim·2^-24 / (1 − dim·2^-24) of Σ|q_i g_i| (any summation order), once for the
    screened sum and once for the float32 one it is compared with; Σ|q_i g_i| ≤ ‖q‖‖g‖ (Cauchy–Schwarz).
    The norms are float32 sums themselves (× (1 + 2^-10) covers them), and the score's last float32
    addition rounds each side by 2^-24 of its terms (+ 2^-22; the bias's share is `slack` per row).
    """
    u, gamma = 2.0**-8, dim * 2.0**-24 / (1 - dim * 2.0**-24)
    return ((2 * u + u * u) + gamma * (1 + u) ** 2 + gamma) * (1 + 2.0**-10) + 2.0**-22


def knn_classify(
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    queries: np.ndarray,
    *,
    k: int = 3,
    metric: str = "l2",
    num_classes: int | None = None,
    mesh: jax.sharding.Mesh | None = None,
    gallery_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Predicted label of each query by a k-NN majority vote over the gallery.

    Args:
      gallery: [G, D] features. gallery_labels: [G] ints in [0, num_classes). queries: [Q, D].
      k: neighbours per query. metric: "l2" (Euclidean, as in the paper) or "cosine".
      num_classes: defaults to max(gallery_labels) + 1.
      mesh: 1-D ``data`` mesh to shard the gallery over (default: every device of every process).
      gallery_mask: [G] bool, the gallery rows that take part (default all); see `knn_neighbours`.
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
    neighbours = knn_neighbours(gallery, queries, k=k, metric=metric, mesh=mesh, gallery_mask=gallery_mask)
    return majority_vote(gallery_labels[neighbours], num_classes)


def majority_vote(neighbour_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """[Q] int32: the most common of each row's [Q, k] neighbour labels, ties → the smallest label."""
    votes = (neighbour_labels[..., None] == np.arange(num_classes)).sum(axis=1)
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
    gallery_mask: np.ndarray | None = None,
    screen: bool = True,
) -> np.ndarray:
    """Gallery indices [Q, k] of each query's k nearest neighbours, nearest first.

    `gallery_mask` ([G] bool) leaves the False rows out as if they were not in the gallery, but keeps
    its shape, so many subsets of one gallery (ablations) share one compiled search: a left-out row's
    score is −inf, like padding's. Indices still count every row. `screen=False` skips the bfloat16
    screen (the same neighbours, all arithmetic in float32)."""
    gallery = np.asarray(gallery, np.float32)
    queries = np.asarray(queries, np.float32)
    if metric not in METRICS:
        raise ValueError(f"unknown KNN metric {metric!r}; expected one of {METRICS}")
    if gallery.ndim != 2 or queries.ndim != 2 or gallery.shape[1] != queries.shape[1]:
        raise ValueError(
            f"expected gallery [G, D] and queries [Q, D], got {gallery.shape} and {queries.shape}"
        )
    if gallery_mask is not None:
        gallery_mask = np.asarray(gallery_mask)
        if gallery_mask.dtype != np.bool_ or gallery_mask.shape != (len(gallery),):
            raise ValueError(
                f"gallery_mask must be a bool array of shape [{len(gallery)}], "
                f"got {gallery_mask.dtype} {gallery_mask.shape}"
            )
    kept = len(gallery) if gallery_mask is None else int(gallery_mask.sum())
    if not 1 <= k <= kept:
        raise ValueError(f"k={k} must be between 1 and the gallery size {kept}")
    # A row with an inf or nan has a non-finite squared norm, so the norms (needed anyway) screen the
    # inputs in one pass; only a suspect row pays for the element-wise check. A finite row whose squared
    # norm overflows float32 (values above ~1e19) has no float32 distance: an error too, not a row that
    # silently ranks as infinitely far.
    gallery_sq, queries_sq = (np.einsum("gd,gd->g", x, x) for x in (gallery, queries))
    for name, x, sq in (("gallery", gallery, gallery_sq), ("queries", queries, queries_sq)):
        if not np.isfinite(sq).all():
            if not np.isfinite(x).all():
                raise ValueError(
                    f"{name} must be finite: row {int(np.flatnonzero(~np.isfinite(x).all(1))[0])}"
                )
            row = int(np.flatnonzero(~np.isfinite(sq))[0])
            raise ValueError(
                f"{name} row {row}: its squared norm overflows float32 (largest |value| "
                f"{float(np.abs(x[row]).max()):.3g}); rescale the features"
            )
    mesh = parallel.make_mesh() if mesh is None else mesh

    if metric == "cosine":
        gallery, queries = _unit_rows(gallery, gallery_sq), _unit_rows(queries, queries_sq)
        scale, bias = 1.0, np.zeros(len(gallery), np.float32)
        norms = (gallery_sq > 0).astype(np.float32)  # unit rows (zero rows stay zero)
    else:  # ‖q − g‖² = ‖q‖² − (2 q·g − ‖g‖²): rank by the bracket, which does not depend on the query.
        scale, bias = 2.0, -gallery_sq
        norms = np.sqrt(gallery_sq)
    if gallery_mask is not None:
        bias = np.where(gallery_mask, bias, -np.inf).astype(np.float32)

    # Compiled once per shape class, not per call: the search finds `width` ≥ k neighbours (k rounded up,
    # at least 8; the first k of an exact top-width are the top k, tie rule included), each device's
    # slice and each query block are padded to a few sizes (`parallel.padded_size`), and the metric's
    # scale is an argument. A sweep over k, metrics, folds and galleries of nearby sizes reuses one
    # program.
    width = max(8, 1 << (k - 1).bit_length())
    num_devices = mesh.devices.size
    per_device = parallel.padded_size(max(math.ceil(len(gallery) / num_devices), width))
    block = min(per_device, max(gallery_block, width))
    rows = per_device * num_devices
    g = parallel.shard_rows(gallery, mesh, rows=rows)
    b = parallel.shard_rows(bias, mesh, rows=rows, fill=-np.inf)  # padding never wins
    scale = parallel.replicate(np.float32(scale), mesh)
    num_queries = len(queries)
    num_blocks = math.ceil(num_queries / query_block) or 1
    per_block = -(-num_queries // num_blocks)
    query_block = min(parallel.padded_size(per_block), max(-(-max(query_block, per_block) // 8) * 8, 8))
    queries = np.pad(queries, ((0, num_blocks * query_block - num_queries), (0, 0)))
    starts = range(0, len(queries), query_block)
    if not screen:
        search = _search_fn(mesh, width, block)
        out = [search(scale, parallel.replicate(queries[i : i + query_block], mesh), g, b) for i in starts]
        return np.concatenate([parallel.to_host(o) for o in out])[:num_queries, :k]

    candidates = min(per_device, max(SCREEN_CANDIDATES, 2 * width))
    # The screen's blocks are equal (each device's slice padded on device to a whole number of them).
    num_screen_blocks = math.ceil(per_device / max(gallery_block, width))
    screen_block = math.ceil(per_device / num_screen_blocks)
    if screen_block > SCREEN_CHUNK:
        screen_block = -(-screen_block // SCREEN_CHUNK) * SCREEN_CHUNK
    screened = _screened_search_fn(mesh, width, screen_block, candidates)
    gt = _screen_layout(mesh, screen_block, num_screen_blocks)(g)  # [blocks, D, block] bfloat16, once
    n = parallel.shard_rows(norms.astype(np.float32), mesh, rows=rows)
    # Rounding of the final float32 additions, relative to the terms (‖g‖² for L2; 0 for cosine).
    slack = parallel.shard_rows(
        (2.0**-22 * np.abs(np.where(np.isfinite(bias), bias, 0))).astype(np.float32), mesh, rows=rows
    )
    out = [
        screened(scale, parallel.replicate(queries[i : i + query_block], mesh), (g, gt, b, n, slack))
        for i in starts
    ]
    neighbours = np.concatenate([parallel.to_host(o[0]) for o in out])[:num_queries]
    proven = np.concatenate([parallel.to_host(o[1]) for o in out])[:num_queries]
    if not proven.all():  # searched again in float32 alone (padded to a multiple of 8: few shapes)
        redo = np.flatnonzero(~proven)
        exact = _search_fn(mesh, width, block)
        padded = np.pad(queries[redo], ((0, -len(redo) % 8), (0, 0)))
        neighbours[redo] = parallel.to_host(exact(scale, parallel.replicate(padded, mesh), g, b))[: len(redo)]
    return neighbours[:, :k]


def _top_k(scores: jax.Array, k: int, chunk: int = 128) -> tuple[jax.Array, jax.Array]:
    """`jax.lax.top_k` along the last axis, exactly (ties → smaller index), in two cheap passes.

    The k best entries lie in the k chunks with the best maxima (a chunk that holds one of them is beaten
    only by chunks holding an entry ahead of it, of which there are fewer than k), so a top-k over chunk
    maxima, then over those chunks' entries in index order, gives the same answer as one top-k over
    everything, without sorting every row (XLA's CPU top_k costs ~6× more on 16K-wide rows).
    """
    width = scores.shape[-1]
    if width < 4 * chunk or width < 2 * k * chunk:
        return jax.lax.top_k(scores, k)
    pad = -width % chunk
    if pad:
        scores = jnp.pad(scores, ((0, 0), (0, pad)), constant_values=-jnp.inf)
    chunks = scores.reshape(scores.shape[0], -1, chunk)
    _, best = jax.lax.top_k(chunks.max(axis=2), k)
    best = jnp.sort(best, axis=1)  # index order, so equal entries keep their smaller-index-first order
    candidates = jnp.take_along_axis(chunks, best[:, :, None], axis=1).reshape(scores.shape[0], -1)
    values, pos = jax.lax.top_k(candidates, k)
    return values, jnp.take_along_axis(best, pos // chunk, axis=1) * chunk + pos % chunk


def _no_candidates(rows: int, width: int) -> tuple[jax.Array, jax.Array]:
    """The running best of a device's scan before its first block: -inf scores (placeholder indices)."""
    best = (jnp.full((rows, width), -jnp.inf, jnp.float32), jnp.zeros((rows, width), jnp.int32))
    return jax.lax.pcast(best, parallel.DATA, to="varying")  # the carry differs per device


def _keep_best(best: tuple[jax.Array, jax.Array], scores: jax.Array, index: jax.Array):
    """The running best (scores, gallery indices) [Q, width] merged with a block's candidates. Earlier
    candidates come first, so on equal scores the smaller gallery index wins."""
    s_all = jnp.concatenate([best[0], scores], axis=1)
    i_all = jnp.concatenate([best[1], index], axis=1)
    s_top, pos = jax.lax.top_k(s_all, best[0].shape[1])
    return s_top, jnp.take_along_axis(i_all, pos, axis=1)


def _across_devices(s: jax.Array, i: jax.Array, k: int, mesh: jax.sharding.Mesh) -> jax.Array:
    """Each device's k best [Q, k · devices] (device-major, so smaller indices come first) → the k best."""
    s = jax.lax.with_sharding_constraint(s, parallel.replicated(mesh))
    i = jax.lax.with_sharding_constraint(i, parallel.replicated(mesh))
    _, pos = jax.lax.top_k(s, k)
    return jnp.take_along_axis(i, pos, axis=1)


def _unit_rows(x: np.ndarray, squared_norms: np.ndarray) -> np.ndarray:
    norm = np.sqrt(squared_norms)[:, None]
    return x / np.where(norm == 0, 1, norm)  # zero rows stay zero, as scikit-learn's cosine distance does


@functools.lru_cache(maxsize=None)
def _search_fn(mesh: jax.sharding.Mesh, k: int, block: int):
    """Jitted search for one mesh and k; recompiles only when the query block or gallery shape changes.
    `scale` (a float32 scalar): 2 for L2, 1 for cosine."""

    def local_top_k(scale, q, g, b):
        # q: [Q, D] replicated; g: [L, D] and b: [L], this device's gallery slice, scanned in blocks of
        # `block` rows (a last, shorter block separately) so memory stays at Q × block scores.
        offset = jax.lax.axis_index(parallel.DATA) * g.shape[0]

        def merge(best, start, g_j, b_j):
            s = scale * jnp.dot(q, g_j.T, precision=jax.lax.Precision.HIGHEST) + b_j
            s_j, i_j = _top_k(s, min(k, s.shape[1]))  # a short last block may hold fewer than k
            return _keep_best(best, s_j, i_j + start + offset)

        def full_block(j, best):
            start = j * block
            g_j = jax.lax.dynamic_slice_in_dim(g, start, block)  # a window, not a copy of the gallery
            return merge(best, start, g_j, jax.lax.dynamic_slice_in_dim(b, start, block))

        best = _no_candidates(q.shape[0], k)
        num_full = g.shape[0] // block
        best = jax.lax.fori_loop(0, num_full, full_block, best)
        if g.shape[0] % block:
            start = num_full * block
            best = merge(best, start, g[start:], b[start:])
        return best

    sharded = jax.shard_map(
        local_top_k,
        mesh=mesh,
        in_specs=(P(), P(), P(parallel.DATA), P(parallel.DATA)),
        out_specs=(P(None, parallel.DATA), P(None, parallel.DATA)),
    )

    @jax.jit
    def search(scale, q, g, b):
        return _across_devices(*sharded(scale, q, g, b), k, mesh)

    return search


@functools.lru_cache(maxsize=None)
def _screen_layout(mesh: jax.sharding.Mesh, block: int, num_blocks: int):
    """[rows, D] float32 sharded by row → [num_blocks · devices, D, block] bfloat16, each device's slice
    zero-padded to `num_blocks` blocks: every block transposed and contiguous, the layout whose bfloat16
    matmul runs at full speed (measured ~2× the same product on row-major blocks or on column windows
    of one [D, rows] array)."""

    def layout(g):
        g = jnp.pad(g, ((0, num_blocks * block - g.shape[0]), (0, 0)))
        return g.reshape(num_blocks, block, g.shape[1]).transpose(0, 2, 1).astype(jnp.bfloat16)

    return jax.jit(jax.shard_map(layout, mesh=mesh, in_specs=P(parallel.DATA), out_specs=P(parallel.DATA)))


@functools.lru_cache(maxsize=None)
def _screened_search_fn(mesh: jax.sharding.Mesh, k: int, block: int, candidates: int):
    """Like `_search_fn`, with a bfloat16 screen: returns (neighbours [Q, k], proven [Q] bool)."""
    c = candidates

    def local(scale, q, gallery):
        # This device's slice: g [L, D] float32, gt [L / block, D, block] bfloat16, b bias, n norms and
        # slack [L].
        g, gt, b, n, slack = gallery
        offset = jax.lax.axis_index(parallel.DATA) * g.shape[0]
        pad = gt.shape[0] * block - g.shape[0]  # the layout's padding rows: never candidates
        b, n, slack = (
            jnp.pad(x, (0, pad), constant_values=v) for x, v in ((b, -jnp.inf), (n, 0), (slack, 0))
        )
        q16 = q.astype(jnp.bfloat16)
        # Bound on |screened − float32 score| for row j: e_q · n_j + slack_j.
        e_q = scale * screen_slack(q.shape[1]) * jnp.sqrt(jnp.sum(q * q, axis=1, keepdims=True))

        def merge(best, start, gt_j, b_j, n_j, s_j):
            s = scale * jnp.dot(q16, gt_j, preferred_element_type=jnp.float32) + b_j
            upper = s + (e_q * n_j + s_j)  # the most a row's float32 score can be
            u_j, i_j = _top_k(upper, min(c, upper.shape[1]), SCREEN_CHUNK)
            return _keep_best(best, u_j, i_j + start)

        def full_block(j, best):
            start = j * block
            window = [jax.lax.dynamic_slice_in_dim(x, start, block) for x in (b, n, slack)]
            return merge(best, start, jax.lax.dynamic_index_in_dim(gt, j, keepdims=False), *window)

        best = _no_candidates(q.shape[0], c)
        best = jax.lax.fori_loop(0, gt.shape[0], full_block, best)  # equal blocks: no short last one
        upper, idx = best
        # The candidates scored again in float32, in index order (equal scores: smaller index first).
        order = jnp.argsort(idx, axis=1)
        idx = jnp.take_along_axis(idx, order, axis=1)
        rows = jnp.take(g, idx, axis=0, mode="clip")  # [Q, c, D]; a padding slot's row is masked below
        exact = scale * jnp.einsum("qcd,qd->qc", rows, q, precision=jax.lax.Precision.HIGHEST) + b[idx]
        # A slot whose bound is -inf holds no candidate (a placeholder, padding or a masked row).
        exact = jnp.where(jnp.take_along_axis(upper, order, axis=1) == -jnp.inf, -jnp.inf, exact)
        s_top, pos = jax.lax.top_k(exact, k)
        # Proven: every row left out scores at most the smallest kept upper bound, which is below the
        # k-th best float32 score; or no usable row was left out (fewer than c in this slice).
        least = upper[:, -1]
        proven = (least < s_top[:, -1]) | (least == -jnp.inf)
        return s_top, jnp.take_along_axis(idx, pos, axis=1) + offset, proven[:, None]

    sharded = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(P(), P(), (P(parallel.DATA),) * 5),
        out_specs=(P(None, parallel.DATA),) * 3,
    )

    @jax.jit
    def search(scale, q, gallery):
        s, i, proven = sharded(scale, q, gallery)  # [Q, k · devices], device-major
        proven = jax.lax.with_sharding_constraint(proven, parallel.replicated(mesh))
        return _across_devices(s, i, k, mesh), proven.all(axis=1)

    return search
