"""Feature extraction on CPU: our jitted JAX encoder against PyTorch's reference, side by side.

    .venv-bench/bin/python bench/extract_vs_torch.py [--model base] [--batch 4] [--batches 3] [--threads 2]

The reference is transformers' ``VideoMAEModel`` (SDPA attention) at the same configuration, with the
same weights: the PyTorch side initialises the model (seed 0) and saves it in the official VideoMAE key
layout; our converter ports that file and the JAX side loads the port, exactly as a user's checkpoint
would travel. Both sides take the same uint8 clips and do the same work per clip: normalise, encode,
mean-pool the tokens, LayerNorm (``fc_norm``, identity affine here, as in VideoMAE's fine-tuned model).

Each side runs in its own child process pinned to the same `--threads` cores (torch.set_num_threads and
XLA's pool both follow the affinity), so its peak RSS is its own. Printed: clips/s, peak RSS, the max
feature difference between the two (a port/parity check) and JAX/PyTorch ratios.

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


def torch_side(args, tmp: str) -> dict:
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
    def step(u8):  # [B, T, H, W, 3] uint8 → [B, D]
        x = (u8.permute(0, 4, 1, 2, 3).float() / 255.0 - mean) / std
        tokens = model(pixel_values=x.permute(0, 2, 1, 3, 4)).last_hidden_state  # HF wants [B, T, C, H, W]
        return torch.nn.functional.layer_norm(tokens.mean(1), (dim,), eps=EPS)

    features = step(clips).numpy()  # warm-up, and the parity output
    start = time.perf_counter()
    for _ in range(args.batches):
        step(clips)
    elapsed = time.perf_counter() - start
    return {
        "impl": f"PyTorch {torch.__version__} (transformers {transformers.__version__} VideoMAEModel, "
        f"{model.config._attn_implementation} attention)",
        "clips_per_s": args.batches * args.batch / elapsed,
        "features": features,
    }


def jax_side(args, tmp: str) -> dict:
    import jax
    import numpy as np

    from gesture_jax import features as features_lib
    from gesture_jax import models, parallel
    from gesture_jax.data import pipeline

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
    features = np.asarray(extractor(batch)["features"])  # compiles once; the parity output
    start = time.perf_counter()
    outs = [extractor(batch) for _ in range(args.batches)]  # dispatched back to back, as in extraction
    jax.block_until_ready(outs)
    elapsed = time.perf_counter() - start
    return {
        "impl": f"JAX {jax.__version__} (gesture_jax Extractor, jit, {jax.devices()[0].platform})",
        "clips_per_s": args.batches * args.batch / elapsed,
        "features": features,
    }


def _load_clips(tmp: str):
    import numpy as np

    return np.load(os.path.join(tmp, "clips.npy"))


def child(side: str, args, tmp: str) -> None:
    _pin(args.threads)
    import numpy as np

    result = (torch_side if side == "torch" else jax_side)(args, tmp)
    np.save(os.path.join(tmp, f"{side}_features.npy"), result.pop("features"))
    result["peak_rss_mib"] = _peak_rss_mib()
    with open(os.path.join(tmp, f"{side}.json"), "w") as f:
        json.dump(result, f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="base")
    parser.add_argument("--batch", type=int, default=4, help="clips per call")
    parser.add_argument("--batches", type=int, default=3, help="timed calls after one warm-up call")
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
    if not sides or set(sides) - {"torch", "jax"}:
        parser.error(f"--sides takes torch and/or jax, got {args.sides!r}")
    size, _, frames = MODELS[args.model][:3]
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        np.save(
            os.path.join(tmp, "clips.npy"),
            rng.integers(0, 256, (args.batch, frames, size, size, 3), np.uint8),
        )
        results = {}
        for side in sides:
            if side == "jax" and "torch" in results:  # port the reference's weights, as a user would
                from gesture_jax.ports import convert

                convert.convert(
                    "videomae_v1",
                    os.path.join(tmp, "videomae.pth"),
                    os.path.join(tmp, "port"),
                    model_config=model_config(args.model),
                )
            argv = [sys.executable, __file__, f"--_child={side}", f"--_tmp={tmp}"]
            argv += [f"--model={args.model}", f"--batch={args.batch}", f"--batches={args.batches}"]
            argv += [f"--threads={args.threads}"]
            subprocess.run(argv, check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
            with open(os.path.join(tmp, f"{side}.json")) as f:
                results[side] = json.load(f)
            results[side]["features"] = np.load(os.path.join(tmp, f"{side}_features.npy"))
    report(args, results)


def report(args, results: dict) -> None:
    import numpy as np

    print(
        f"\nVideoMAE {args.model} ({MODELS[args.model]}), batch {args.batch} × {args.batches}, "
        f"{args.threads} threads, {os.uname().machine} CPU"
    )
    print(f"{'side':6} {'clips/s':>9} {'peak RSS MiB':>13}  implementation")
    for side, r in results.items():
        print(f"{side:6} {r['clips_per_s']:9.3f} {r['peak_rss_mib']:13.0f}  {r['impl']}")
    summary = {s: {k: v for k, v in r.items() if k != "features"} for s, r in results.items()}
    if len(results) == 2:
        diff = float(np.abs(results["jax"]["features"] - results["torch"]["features"]).max())
        speed = results["jax"]["clips_per_s"] / results["torch"]["clips_per_s"]
        memory = results["jax"]["peak_rss_mib"] / results["torch"]["peak_rss_mib"]
        print(f"max |feature difference| {diff:.2e}")
        print(f"ratio JAX/PyTorch: throughput {speed:.2f}x (goal >= 1.0), peak RSS {memory:.2f}x")
        summary.update(max_feature_diff=diff, throughput_ratio=speed, peak_rss_ratio=memory)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), **summary}, f, indent=2)


if __name__ == "__main__":
    main()
