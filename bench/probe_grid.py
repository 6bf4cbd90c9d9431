"""Token-probe grid speed: the whole learning-rate × weight-decay grid trained as one vmapped program
(`analysis.probe_grid.train`) against one probe alone and against the grid's probes trained one after
another (the baseline: a loop over the settings, each a program of its own).

    .venv/bin/python bench/probe_grid.py [--kind attentive_probe] [--videos 700] [--tokens 64] [--dim 64]
    .venv/bin/python bench/probe_grid.py --store WORKDIR/features/<cache entry>/tokens

Default sizes are the toy study's (configs/probes/attentive_demo.py): the synthetic gallery's 700 videos,
16 tokens (4×8×8 averaged over 4×4 patches) of 64 channels, 7 classes, 4 heads, V-JEPA 2's 20-member
grid, batches of 32. `--store` reads a token store a run extracted instead. Each form trains `--epochs`
epochs after one warm-up call (its first time, compilation included, is printed too). A probe step is one
member's update on one batch: the grid's probe steps per second are members × batches / seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", default="attentive_probe", choices=("attentive_probe", "attentive_pooler"))
    parser.add_argument("--store", help="a token store folder (<cache entry>/tokens) to train on")
    parser.add_argument("--videos", type=int, default=700)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--classes", type=int, default=7)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument(
        "--loop_members", type=int, default=20, help="how many of the grid's probes the loop trains"
    )
    args = parser.parse_args()

    import jax

    from gesture_jax.analysis import attentive_heads, probe_grid
    from gesture_jax.features import token_store

    if args.store:
        store = token_store.TokenStore.open(args.store)
    else:
        folder = tempfile.mkdtemp(prefix="probe_grid_bench_")
        rng = np.random.default_rng(0)
        labels = np.arange(args.videos) % args.classes
        x = rng.normal(size=(args.videos, 1, 1, args.tokens, args.dim)).astype(np.float32)
        x += rng.normal(size=(args.classes, 1, 1, 1, args.dim)).astype(np.float32)[labels]
        token_store.write_part(folder, 0, x, labels, np.array([str(i) for i in range(args.videos)]))
        token_store.finish(folder, [args.videos], x.shape[1:])
        store = token_store.TokenStore.open(folder)
    labels, _ = store.index()
    data = probe_grid.TokenSet(store, np.arange(len(store)), labels)
    classes = max(args.classes, int(labels.max()) + 1)
    head = attentive_heads.HeadConfig(
        args.kind, store.shape[-1], classes, depth=args.depth, num_heads=args.heads
    )
    grid = probe_grid.GridSettings(epochs=args.epochs, batch_size=args.batch_size)
    members = probe_grid.members(grid, store.shape[1])
    steps = args.epochs * -(-len(data) // args.batch_size)

    def timed(settings: probe_grid.GridSettings) -> tuple[float, float]:
        start = time.perf_counter()
        probe_grid.train(head, dataclasses.replace(settings, epochs=1), data, seed=0)  # warm-up: compiles
        first = time.perf_counter() - start
        start = time.perf_counter()
        probe_grid.train(head, settings, data, seed=0)
        return first, time.perf_counter() - start

    print(
        f"{jax.devices()[0].platform}, {os.cpu_count()} cores; {args.kind} depth {args.depth}, "
        f"{args.heads} heads; {len(data)} videos × {store.shape} tokens; {args.epochs} epochs of "
        f"{steps // args.epochs} batches of {args.batch_size}"
    )
    first_one, one = timed(
        dataclasses.replace(
            grid, learning_rates=grid.learning_rates[:1], weight_decays=grid.weight_decays[:1]
        )
    )
    first_grid, whole = timed(grid)
    loop = 0.0
    for m in members[: args.loop_members]:
        single = dataclasses.replace(grid, learning_rates=(m.learning_rate,), weight_decays=(m.weight_decay,))
        start = time.perf_counter()
        probe_grid.train(head, single, data, seed=0)  # compiled by the one-probe warm-up: same shapes
        loop += time.perf_counter() - start
    loop *= len(members) / min(args.loop_members, len(members))
    rate = len(members) * steps
    print(
        f"one probe:               {one:6.1f} s ({steps / one:6.1f} probe steps/s; first {first_one:.1f} s)"
    )
    print(
        f"grid, one program:       {whole:5.0f} s ({rate / whole:6.1f} steps/s; first {first_grid:.1f} s)"
    )
    print(f"grid, probes one by one: {loop:6.1f} s ({rate / loop:6.1f} probe steps/s)")
    print(f"grid in one program / one probe: {whole / one:.2f}× the time for {len(members)}× the probes")
    print(f"one by one / one program: {loop / whole:.2f}×")
    print(
        f"the grid: {whole / args.epochs:.1f} s per epoch, {20 * whole / args.epochs:.0f} s for V-JEPA 2's 20"
    )


if __name__ == "__main__":
    main()
