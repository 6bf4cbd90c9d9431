"""Linear-probe speed: our L-BFGS fits (one λ after another in one jitted call) against the same fits
vmapped over λ (what `probes.fit_linear_probe` did before) and scikit-learn's LogisticRegression.

    .venv-bench/bin/python bench/linear_probe.py [--rows 42] [--dim 64] [--classes 7] [--repeats 5]
    .venv-bench/bin/python bench/linear_probe.py --features WORKDIR/features/<cache entry>/features.npz

Each method fits the four weight decays the protocols choose among (1e-1 ... 1e-4) on the same
standardised features: Gaussian class clusters (the default sizes are `toy_gestures/synthetic_small:train`'s;
try --rows 2000 --dim 768 for a ViT-B gallery), or a gallery's cached features from any run's workdir
(`--features`; real galleries are often separable, and their weakly regularised fits take the most
L-BFGS iterations, where the vmapped form loses most). Timed from host
arrays to host results, after one warm-up call each (the first call's time, tracing and compiling
included, is printed too: every process pays it once per row bucket). The methods take turns for
`--repeats` rounds; a time is the median, a ratio the median of the per-round ratios with its range.
scikit-learn (lbfgs, `C = 1 / (λ N)`, tol 1e-5 on the gradient) minimises the same objective; the largest
difference of its weights from ours is printed so a reader sees the fits agree.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DECAYS = (1e-1, 1e-2, 1e-3, 1e-4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=42)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--classes", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max_steps", type=int, default=300)
    parser.add_argument("--features", help="a features.npz of the feature cache (features, labels)")
    parser.add_argument("--noise", type=float, default=1.0, help="class spread; centres are N(0, 1)")
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    from sklearn.linear_model import LogisticRegression

    from gesture_jax.analysis import probes

    if args.features:
        with np.load(args.features) as cached:
            features, labels = cached["features"].astype(np.float32), cached["labels"].astype(np.int64)
        args.rows, args.dim = features.shape
        args.classes = max(args.classes, int(labels.max()) + 1)
    else:
        rng = np.random.default_rng(0)
        labels = np.arange(args.rows) % args.classes
        centres = rng.normal(size=(args.classes, args.dim))
        features = (centres[labels] + args.noise * rng.normal(size=(args.rows, args.dim))).astype(np.float32)

    def ours():
        fitted = probes.fit_linear_probe(
            features, labels, num_classes=args.classes, weight_decays=DECAYS, max_steps=args.max_steps
        )
        return [p.weights for p in fitted], [p.steps for p in fitted]

    # The previous form: the same inputs and one-λ solver, vmapped over λ (every λ steps until the
    # slowest stops).
    _, _, (x, y, weight, present) = probes.fit_inputs(features, labels, args.classes)
    solve = functools.partial(
        probes.lbfgs_solve, num_classes=args.classes, max_steps=args.max_steps, tol=1e-5
    )
    vmapped = jax.jit(lambda x, y, w, p, d: jax.vmap(lambda di: solve(x, y, w, p, di))(d))

    def vmapped_fit():
        out = vmapped(x, y, weight, present, jnp.asarray(DECAYS, jnp.float32))
        w, _, steps, _ = (np.asarray(o) for o in out)
        return list(w), [int(s) for s in steps]

    n = len(features)
    standardised = x[:n].astype(np.float64)

    def sklearn_fit():
        weights = []
        for decay in DECAYS:
            model = LogisticRegression(C=1.0 / (decay * n), tol=1e-5, max_iter=args.max_steps)
            weights.append(model.fit(standardised, labels).coef_.T)
        return weights, None

    methods = {"ours (lax.map over λ)": ours, "vmapped over λ": vmapped_fit, "scikit-learn": sklearn_fit}
    first = {}
    for name, fn in methods.items():
        start = time.perf_counter()
        fn()
        first[name] = time.perf_counter() - start
    times = {name: [] for name in methods}
    results = {}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)

    print(f"{args.rows} rows × {args.dim} dims, {args.classes} classes, λ = {DECAYS}, {jax.devices()[0]}")
    print(f"{'method':<24} {'first call':>11} {'median':>10}  L-BFGS iterations per λ")
    for name in methods:
        steps = results[name][1]
        print(f"{name:<24} {first[name]:10.3f}s {np.median(times[name]):9.4f}s  {steps if steps else ''}")
    base = "ours (lax.map over λ)"
    for other in ("vmapped over λ", "scikit-learn"):
        ratios = np.asarray(times[other]) / np.asarray(times[base])
        print(
            f"{other} / ours: {np.median(ratios):.2f}× [{ratios.min():.2f}–{ratios.max():.2f}]"
            f" (first call {first[other] / first[base]:.2f}×)"
        )
    # Standardised features, same objective: scikit-learn's weights against ours, per λ.
    diffs = [float(np.abs(a - b).max()) for a, b in zip(results[base][0], results["scikit-learn"][0])]
    print("max |W_ours − W_sklearn| per λ:", ", ".join(f"{d:.1e}" for d in diffs))


if __name__ == "__main__":
    main()
