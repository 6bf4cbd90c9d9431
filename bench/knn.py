"""KNN speed: the sharded `knn_classify` against scikit-learn's brute force and a bare jitted matmul.

    .venv/bin/python bench/knn.py [--gallery 200000] [--queries 2000] [--dim 768] [--k 3] [--repeats 3]

All three rank the same float32 gallery for the same queries (L2, k neighbours, majority vote):
- scikit-learn: ``KNeighborsClassifier(algorithm="brute")`` fit + predict (its chunked BLAS path);
- bare matmul: one jitted ``top_k(2 q·gᵀ − ‖g‖²)`` over the whole gallery at once, no sharding, no
  blocking, no vote (the issue's baseline), and the matmul alone (``max`` of q·gᵀ, so nothing big
  leaves the device): the compute limit for these shapes on this machine;
- ours: ``gesture_jax.knn.knn_classify`` on every local device, from numpy in to numpy out.
Each is timed from host arrays to host results (best of `--repeats`, after a warm-up that compiles),
and GFLOP/s counts the 2·Q·G·D multiply-adds of the distance matmul. Predictions of ours are checked
against scikit-learn's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def timed(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up: compiles, fills caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gallery", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--classes", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    from sklearn.neighbors import KNeighborsClassifier

    from gesture_jax import knn, parallel

    rng = np.random.default_rng(0)
    gallery = rng.standard_normal((args.gallery, args.dim), np.float32)
    labels = rng.integers(0, args.classes, args.gallery)
    queries = rng.standard_normal((args.queries, args.dim), np.float32)
    flops = 2.0 * args.queries * args.gallery * args.dim

    def sklearn_run():
        model = KNeighborsClassifier(n_neighbors=args.k, algorithm="brute", metric="euclidean", n_jobs=-1)
        return model.fit(gallery, labels).predict(queries)

    @jax.jit
    def bare(q, g):
        return jax.lax.top_k(2 * q @ g.T - jnp.sum(g * g, axis=1), args.k)[1]

    def bare_run():
        return np.asarray(bare(jnp.asarray(queries), jnp.asarray(gallery)))

    @jax.jit
    def matmul(q, g):
        return (q @ g.T).max(axis=1)

    def matmul_run():
        return np.asarray(matmul(jnp.asarray(queries), jnp.asarray(gallery)))

    mesh = parallel.make_mesh()

    def ours_run():
        return knn.knn_classify(gallery, labels, queries, k=args.k, num_classes=args.classes, mesh=mesh)

    results = {}
    for name, fn in (
        ("scikit-learn brute", sklearn_run),
        ("bare jitted matmul+top_k", bare_run),
        ("matmul alone", matmul_run),
        ("gesture_jax knn_classify", ours_run),
    ):
        seconds, out = timed(fn, args.repeats)
        results[name] = {"seconds": seconds, "gflops": flops / seconds / 1e9}
        if name.startswith("scikit"):
            reference = out
        elif name.startswith("gesture_jax"):
            agree = float((out == reference).mean())

    ours, sk, bare_s = (
        results[n]["seconds"]
        for n in ("gesture_jax knn_classify", "scikit-learn brute", "bare jitted matmul+top_k")
    )
    print(
        f"\nKNN: gallery {args.gallery} × {args.dim}, {args.queries} queries, k={args.k}, L2; "
        f"{jax.device_count()} {jax.devices()[0].platform} device(s), {os.cpu_count()} cores"
    )
    print(f"{'':28} {'seconds':>8} {'GFLOP/s':>8}")
    for name, r in results.items():
        print(f"{name:28} {r['seconds']:8.3f} {r['gflops']:8.1f}")
    print(f"predictions equal to scikit-learn's: {100 * agree:.2f}%")
    print(f"speed-up over scikit-learn: {sk / ours:.2f}x (goal >= 1.5)")
    print(f"time / bare matmul+top_k: {ours / bare_s:.2f}x (goal <= 1.2)")
    print(f"time / matmul alone: {ours / results['matmul alone']['seconds']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "args": vars(args),
                    "results": results,
                    "agreement": agree,
                    "speedup_vs_sklearn": sk / ours,
                    "ratio_to_matmul": ours / bare_s,
                    "ratio_to_matmul_alone": ours / results["matmul alone"]["seconds"],
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
