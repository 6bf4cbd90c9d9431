"""KNN speed: the sharded `knn_classify` against faiss, scikit-learn and a bare jitted matmul.

    .venv-bench/bin/python bench/knn.py [--gallery 200000] [--queries 2000] [--dim 768] [--k 3] [--repeats 5]

All rank the same float32 gallery for the same queries (L2, k neighbours, majority vote):
- faiss-cpu: ``IndexFlatL2`` add + search, exact, on as many threads as this process may use (what users
  pick for exact search; requirements-bench.txt; skipped with a note when not installed);
- scikit-learn: ``KNeighborsClassifier(algorithm="brute")`` fit + predict (its chunked BLAS path);
- bare matmul: one jitted ``top_k(2 q·gᵀ − ‖g‖²)`` over the whole gallery at once, no sharding, no
  blocking, no vote, and the float32 matmul alone (``max`` of q·gᵀ, so nothing big leaves the device);
- ours: ``gesture_jax.analysis.knn.knn_classify`` on every local device, from numpy in to numpy out, with its
  exact bfloat16 screen (the default) and without it (`screen=False`, all float32).
Each is timed from host arrays to host results. After a warm-up call of each (compiles, fills caches),
the methods take turns for `--repeats` rounds, so a shared machine's drifting load hits them alike; a
method's time is its median, and ours/faiss is the median of the per-round ratios, with its range.
GFLOP/s counts the 2·Q·G·D multiply-adds of the distance matmul. Our predictions are checked against
scikit-learn's and our neighbours against faiss's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gallery", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--classes", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    from sklearn.neighbors import KNeighborsClassifier

    from gesture_jax.analysis import knn
    from gesture_jax.infra import parallel

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

    def ours_run(screen=True):
        neighbours = knn.knn_neighbours(gallery, queries, k=args.k, mesh=mesh, screen=screen)
        return neighbours, knn.majority_vote(labels[neighbours], args.classes)

    methods = {
        "gesture_jax knn_classify": ours_run,
        "ours, float32 only": lambda: ours_run(screen=False),
        "scikit-learn brute": sklearn_run,
        "bare jitted matmul+top_k": bare_run,
        "matmul alone (float32)": matmul_run,
    }
    try:
        import faiss

        faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))

        def faiss_run():
            index = faiss.IndexFlatL2(args.dim)
            index.add(gallery)
            return index.search(queries, args.k)[1]

        methods["faiss IndexFlatL2"] = faiss_run
    except ImportError:
        print("faiss is not installed (pip install -r requirements-bench.txt): its row is skipped")

    outputs = {name: fn() for name, fn in methods.items()}  # warm-up, and the outputs compared
    seconds = {name: [] for name in methods}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    results = {
        name: {"seconds": float(np.median(t)), "gflops": flops / float(np.median(t)) / 1e9, "runs": t}
        for name, t in seconds.items()
    }
    ours_neighbours, ours_predictions = outputs["gesture_jax knn_classify"]
    agree = float((ours_predictions == outputs["scikit-learn brute"]).mean())
    same_as_float32 = bool((ours_neighbours == outputs["ours, float32 only"][0]).all())

    ours = results["gesture_jax knn_classify"]["seconds"]
    print(
        f"\nKNN: gallery {args.gallery} × {args.dim}, {args.queries} queries, k={args.k}, L2; "
        f"{jax.device_count()} {jax.devices()[0].platform} device(s), {len(os.sched_getaffinity(0))} "
        f"cores; median of {args.repeats} alternating rounds"
    )
    print(f"{'':28} {'seconds':>8} {'GFLOP/s':>8}")
    for name, r in results.items():
        print(f"{name:28} {r['seconds']:8.3f} {r['gflops']:8.1f}")
    print(f"predictions equal to scikit-learn's: {100 * agree:.2f}%")
    print(f"neighbours equal to the float32-only search's: {same_as_float32}")
    summary = {
        "args": vars(args),
        "results": results,
        "agreement": agree,
        "same_neighbours_as_float32": same_as_float32,
        "speedup_vs_sklearn": results["scikit-learn brute"]["seconds"] / ours,
        "ratio_to_matmul": ours / results["bare jitted matmul+top_k"]["seconds"],
        "ratio_to_matmul_alone": ours / results["matmul alone (float32)"]["seconds"],
    }
    print(f"speed-up over scikit-learn: {summary['speedup_vs_sklearn']:.2f}x")
    print(f"time / bare matmul+top_k: {summary['ratio_to_matmul']:.2f}x")
    print(f"time / float32 matmul alone: {summary['ratio_to_matmul_alone']:.2f}x")
    if "faiss IndexFlatL2" in results:
        ratios = np.asarray(seconds["faiss IndexFlatL2"]) / np.asarray(seconds["gesture_jax knn_classify"])
        same = float((ours_neighbours == outputs["faiss IndexFlatL2"]).mean())
        print(f"neighbours equal to faiss's: {100 * same:.2f}%")
        print(
            f"speed-up over faiss IndexFlatL2: {np.median(ratios):.2f}x median per round "
            f"(min {ratios.min():.2f}, max {ratios.max():.2f}; goal >= 1.0)"
        )
        summary.update(
            speedup_vs_faiss=float(np.median(ratios)),
            speedup_vs_faiss_rounds=[float(r) for r in ratios],
            same_neighbours_as_faiss=same,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
