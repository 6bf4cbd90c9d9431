"""Feature extraction on CPU: our jitted JAX encoder against PyTorch's reference, side by side.

    .venv-bench/bin/python bench/extract_vs_torch.py [--model base] [--batch 4] [--pairs 7] [--threads 2]

The reference is transformers' ``VideoMAEModel`` (SDPA attention) at the same configuration, with the
same weights: the PyTorch side initialises the model (seed 0) and saves it in the official VideoMAE key
layout; our converter ports that file and the JAX side loads the port, exactly as a user's checkpoint
would travel. Both sides take the same uint8 clips and do the same work per clip: normalise, encode,
mean-pool the tokens, LayerNorm (``fc_norm``, identity affine here, as in VideoMAE's fine-tuned model).

Each side is a child process pinned to the same `--threads` cores (torch.set_num_threads and XLA's pool
both follow the affinity), so its peak RSS is its own. Both load their model and run one warm-up call,
then the parent alternates timed calls, one batch each: torch then JAX, JAX then torch, and so on for
`--pairs` pairs, while the side not being timed waits idle on its pipe. Each pair gives one throughput
ratio (JAX / PyTorch) from two calls seconds apart, so a shared machine's load, which drifts over
minutes, hits both sides of a pair alike; the verdict is the median ratio over the pairs, printed with
its spread. Also printed: clips/s (median per side), peak RSS and the max feature difference between
the two (a port/parity check).

Needs requirements-bench.txt (CPU torch and transformers; `make bench-env`). `--sides jax` runs the JAX
side alone on random weights, without torch.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# name → (img_size, patch, frames, dim, depth, heads). "base" is the paper's VideoMAE ViT-B/16 (1568 tokens).
MODELS = {
    "base": (224, 16, 16, 768, 12, 12),
    "small": (224, 16, 16, 384, 12, 6),
    "tiny": (32, 8, 4, 64, 2, 4),  # for tests
}
EPS = 1e-6  # official VideoMAE LayerNorm epsilon (transformers defaults to 1e-12)


def model_config(name: str) -> dict:
    size, patch, frames, dim, depth, heads = MODELS[name]
    return dict(
        img_size=size,
        patch_size=patch,
        num_frames=frames,
        tubelet_size=2,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        mlp_ratio=4.0,
        num_classes=0,
        use_mean_pooling=True,
        layer_norm_eps=EPS,
    )


def official_state_dict(hf_state: dict) -> dict:
    """transformers' VideoMAE state dict → the official repository's keys (what our converter reads);
    numpy arrays in and out."""
    import numpy as np

    out, blocks = {}, {}
    for key, value in hf_state.items():
        key = key.removeprefix("videomae.")
        if key.startswith("embeddings.patch_embeddings.projection."):
            out["patch_embed.proj." + key.rsplit(".", 1)[1]] = value
            continue
        parts = key.split(".")
        if parts[:2] != ["encoder", "layer"]:
            raise KeyError(f"unexpected transformers VideoMAE key {key!r}")
        i, rest = int(parts[2]), ".".join(parts[3:])
        blocks.setdefault(i, {})[rest] = value
    for i, b in blocks.items():
        p = f"blocks.{i}."
        qkv = [b.pop(f"attention.attention.{n}.weight") for n in ("query", "key", "value")]
        out[p + "attn.qkv.weight"] = np.concatenate(qkv, 0)
        for ours, theirs in (("q_bias", "query"), ("v_bias", "value")):  # transformers 5 names, then 4's
            name = f"attention.attention.{theirs}.bias"
            out[f"{p}attn.{ours}"] = b.pop(name) if name in b else b.pop(f"attention.attention.{ours}")
        for theirs, ours in (
            ("attention.output.dense", "attn.proj"),
            ("intermediate.dense", "mlp.fc1"),
            ("output.dense", "mlp.fc2"),
            ("layernorm_before", "norm1"),
            ("layernorm_after", "norm2"),
        ):
            for leaf in ("weight", "bias"):
                out[f"{p}{ours}.{leaf}"] = b.pop(f"{theirs}.{leaf}")
        if b:
            raise KeyError(f"transformers VideoMAE block {i}: keys not mapped: {sorted(b)}")
    dim = out["patch_embed.proj.weight"].shape[0]
    dtype = out["patch_embed.proj.weight"].dtype
    out["fc_norm.weight"], out["fc_norm.bias"] = np.ones(dim, dtype), np.zeros(dim, dtype)
    return out


def _pin(threads: int) -> None:
    available = sorted(os.sched_getaffinity(0))
    if threads > len(available):
        raise SystemExit(f"--threads {threads}: only {len(available)} cores are available")
    os.sched_setaffinity(0, available[:threads])


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def torch_side(args, tmp: str):
    """Loads the reference; returns (a call on the clips → features, a description)."""
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    size, patch, frames, dim, depth, heads = MODELS[args.model]
    config = transformers.VideoMAEConfig(
        image_size=size,
        patch_size=patch,
        num_frames=frames,
        tubelet_size=2,
        hidden_size=dim,
        num_hidden_layers=depth,
        num_attention_heads=heads,
        intermediate_size=4 * dim,
        qkv_bias=True,  # transformers 4
        qv_bias=True,  # transformers 5
        use_mean_pooling=True,
        layer_norm_eps=EPS,
    )
    model = transformers.VideoMAEModel(config).eval()
    state = official_state_dict({k: v.numpy() for k, v in model.state_dict().items()})
    torch.save(
        {"model": {k: torch.from_numpy(v) for k, v in state.items()}}, os.path.join(tmp, "videomae.pth")
    )
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1, 1)
    clips = torch.from_numpy(_load_clips(tmp))

    @torch.inference_mode()
    def step():  # [B, T, H, W, 3] uint8 → [B, D]
        x = (clips.permute(0, 4, 1, 2, 3).float() / 255.0 - mean) / std
        tokens = model(pixel_values=x.permute(0, 2, 1, 3, 4)).last_hidden_state  # HF wants [B, T, C, H, W]
        return torch.nn.functional.layer_norm(tokens.mean(1), (dim,), eps=EPS).numpy()

    impl = (
        f"PyTorch {torch.__version__} (transformers {transformers.__version__} VideoMAEModel, "
        f"{model.config._attn_implementation} attention)"
    )
    return step, impl


def jax_side(args, tmp: str):
    """Loads the port (or random weights with --sides jax); returns (call → features, description)."""
    import jax
    import numpy as np

    from gesture_jax import models
    from gesture_jax.data import pipeline
    from gesture_jax.features import extraction as features_lib
    from gesture_jax.infra import parallel

    if os.path.exists(os.path.join(tmp, "port", "model.json")):
        model, spec = models.load(os.path.join(tmp, "port"))
    else:  # --sides jax: random weights of the same architecture
        model, spec = models.create("videomae-b16", model_overrides=model_config(args.model), seed=0)
    mesh = parallel.make_mesh(jax.devices()[:1])
    extractor = features_lib.Extractor(model, spec, mesh)
    clips = _load_clips(tmp)
    b = len(clips)
    batch = {
        "video": clips[:, None],  # one view per clip
        "label": np.zeros(b, np.int32),
        "id": np.zeros((b, pipeline.ID_BYTES), np.uint8),
        "mask": np.ones(b, bool),
    }

    def step():  # the extraction path users run: uint8 in, preprocessing and the encoder jitted
        return np.asarray(extractor(batch)["features"])

    return step, f"JAX {jax.__version__} (gesture_jax Extractor, jit, {jax.devices()[0].platform})"


def _load_clips(tmp: str):
    import numpy as np

    return np.load(os.path.join(tmp, "clips.npy"))


def child(side: str, args, tmp: str) -> None:
    """A timing server: loads, warms up (and saves the parity features), says `ready`, then answers each
    `time` line on stdin with one timed call's seconds, and `quit` with its peak RSS."""
    _pin(args.threads)
    import numpy as np

    step, impl = (torch_side if side == "torch" else jax_side)(args, tmp)
    np.save(os.path.join(tmp, f"{side}_features.npy"), step())  # compiles / warms up; the parity output
    step()  # a second untimed call: allocator and caches settle as in a long extraction
    _reply({"ready": True, "impl": impl})
    for line in sys.stdin:
        if line.strip() == "time":
            start = time.perf_counter()
            step()
            _reply({"seconds": time.perf_counter() - start})
        elif line.strip() == "quit":
            _reply({"peak_rss_mib": _peak_rss_mib()})
            return
        else:
            raise SystemExit(f"unknown command {line!r}")


def _reply(message: dict) -> None:
    print("BENCH " + json.dumps(message), flush=True)


class Side:
    """The parent's handle on one child."""

    def __init__(self, name: str, args, tmp: str):
        argv = [sys.executable, __file__, f"--_child={name}", f"--_tmp={tmp}"]
        argv += [f"--model={args.model}", f"--batch={args.batch}", f"--threads={args.threads}"]
        self.name = name
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "JAX_PLATFORMS": "cpu"},
        )
        self.impl = self._read()["impl"]
        self.seconds: list[float] = []

    def _read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("BENCH "):
                return json.loads(line[len("BENCH ") :])
            sys.stdout.write(line)  # the child's own output (warnings) passes through
        raise SystemExit(f"the {self.name} side exited with code {self.proc.wait()} before answering")

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def time_one(self) -> None:
        self.seconds.append(self.ask("time")["seconds"])

    def close(self) -> float:
        rss = self.ask("quit")["peak_rss_mib"]
        self.proc.wait()
        return rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="base")
    parser.add_argument("--batch", type=int, default=4, help="clips per call")
    parser.add_argument("--pairs", type=int, default=7, help="timed pairs of calls (5 or more for a verdict)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--sides", default="torch,jax", help="which sides to run, comma-separated")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--_child", choices=("torch", "jax"), help=argparse.SUPPRESS)
    parser.add_argument("--_tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        return child(args._child, args, args._tmp)

    import numpy as np

    sides = [s for s in args.sides.split(",") if s]
    if not sides or set(sides) - {"torch", "jax"} or len(set(sides)) != len(sides):
        parser.error(f"--sides takes torch and/or jax, got {args.sides!r}")
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    size, _, frames = MODELS[args.model][:3]
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        np.save(
            os.path.join(tmp, "clips.npy"),
            rng.integers(0, 256, (args.batch, frames, size, size, 3), np.uint8),
        )
        running: dict[str, Side] = {}
        try:
            for name in sorted(sides, key=lambda s: s != "torch"):  # torch first: it writes the weights
                if name == "jax" and "torch" in running:  # port the reference's weights, as a user would
                    from gesture_jax.ports import convert

                    convert.convert(
                        "videomae_v1",
                        os.path.join(tmp, "videomae.pth"),
                        os.path.join(tmp, "port"),
                        model_config=model_config(args.model),
                    )
                running[name] = Side(name, args, tmp)
            order = list(running.values())
            for i in range(args.pairs):  # alternate who goes first, so neither always follows the other
                for side in order if i % 2 == 0 else order[::-1]:
                    side.time_one()
            results = {}
            for name, side in running.items():
                results[name] = {
                    "impl": side.impl,
                    "seconds": side.seconds,
                    "clips_per_s": args.batch / float(np.median(side.seconds)),
                    "peak_rss_mib": side.close(),
                    "features": np.load(os.path.join(tmp, f"{name}_features.npy")),
                }
        finally:
            for side in running.values():
                if side.proc.poll() is None:
                    side.proc.kill()
    report(args, results)


def report(args, results: dict) -> None:
    import numpy as np

    print(
        f"\nVideoMAE {args.model} ({MODELS[args.model]}), batch {args.batch}, {args.pairs} alternating "
        f"pairs of timed calls, {args.threads} threads, {os.uname().machine} CPU"
    )
    print(f"{'side':6} {'clips/s':>9} {'peak RSS MiB':>13}  implementation")
    for side, r in results.items():
        print(f"{side:6} {r['clips_per_s']:9.3f} {r['peak_rss_mib']:13.0f}  {r['impl']}")
    summary = {s: {k: v for k, v in r.items() if k != "features"} for s, r in results.items()}
    if len(results) == 2:
        diff = float(np.abs(results["jax"]["features"] - results["torch"]["features"]).max())
        ratios = np.asarray(results["torch"]["seconds"]) / np.asarray(results["jax"]["seconds"])
        speed = float(np.median(ratios))
        memory = results["jax"]["peak_rss_mib"] / results["torch"]["peak_rss_mib"]
        print(f"max |feature difference| {diff:.2e}")
        print(
            f"ratio JAX/PyTorch: throughput {speed:.2f}x median of {len(ratios)} pairs "
            f"(min {ratios.min():.2f}, max {ratios.max():.2f}; goal >= 1.15), peak RSS {memory:.2f}x"
        )
        summary.update(
            max_feature_diff=diff,
            throughput_ratio=speed,
            throughput_ratio_pairs=[round(float(r), 4) for r in ratios],
            throughput_ratio_min=float(ratios.min()),
            throughput_ratio_max=float(ratios.max()),
            peak_rss_ratio=memory,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), **summary}, f, indent=2)


if __name__ == "__main__":
    main()
