"""GPU check in one run: fp32 / bf16 parity on the port fixtures, then ViT-B/16 throughput and MFU.

    python bench/gpu.py [--batch 32,64] [--steps 20] [--impls auto,xla,cudnn] [--encoder videomae2-b16]
                        [--profile] [--transfer] [--families vjepa2-vitg,videoprism-l,siglip2-so400m14]

The one script to run on a lent GPU machine (device time is short): every part prints as it finishes.
``auto`` is the attention users get by default (``encoder.attention``); `--profile` prints where the best
configuration's time goes, kernel by kernel; `--transfer` times the host→device copy of a uint8 batch
(the input side of end-to-end extraction; decoding is bench/input_pipeline.py's, per core);
`--families` measures other registered encoders' throughput at their own input size (random weights).

Parity converts every fixture checkpoint of tests/fixtures and compares features (and ViCLIP scores)
with the reference outputs, in float32 at 'highest' matmul precision (TF32 would give ~1e-3) and in
bfloat16 compute. Throughput runs a random-init ViT-B/16 at 1568 tokens (16 frames × 224², tubelet 2)
in bfloat16 with each attention implementation; MFU counts the model's matmul FLOPs against the chip's
dense bf16 peak (the issue's goal: 55%). Runs on CPU too (`--encoder toy-vit`), which is how it is tested.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gesture_jax import models  # noqa: E402
from gesture_jax.ports import convert  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures")
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense, SXM


def parity(cases: list[str] | None = None) -> list[dict]:
    """Each fixture case (all, or `cases`) converted and run in float32 and bfloat16: the largest
    difference from the reference outputs."""
    available = sorted(n.removesuffix(".npz") for n in os.listdir(os.path.join(FIXTURES, "models")))
    unknown = sorted(set(cases or ()) - set(available))
    if unknown:
        raise SystemExit(f"--parity_cases: no fixture named {unknown}; there are {available}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases or available:
            z = np.load(os.path.join(FIXTURES, "models", f"{case}.npz"))
            config = json.loads(z["config"].item())
            dst = os.path.join(tmp, case)
            convert.convert(
                config["family"],
                os.path.join(FIXTURES, "checkpoints", f"{case}.pth"),
                dst,
                model_config=convert.model_config_from_json(config["family"], config),
            )
            row = {"case": case}
            for dtype in ("float32", "bfloat16"):
                model, _ = models.load(dst, dtype=dtype)
                with jax.default_matmul_precision("highest" if dtype == "float32" else "default"):
                    feats = np.asarray(model.features(jnp.asarray(z["video_bthwc"])))
                    row[f"features_{dtype}"] = float(np.abs(feats - z["features"]).max())
                    if "token_ids" in z.files:
                        text = np.asarray(model.encode_text(jnp.asarray(z["token_ids"])))
                        scores = np.asarray(jax.nn.softmax(100.0 * feats @ text.T, axis=-1))
                        row[f"scores_{dtype}"] = float(np.abs(scores - z["scores"]).max())
            rows.append(row)
    return rows


def vit_flops_per_clip(c) -> float:
    """Matmul FLOPs of one clip (2 per multiply-add) for a ViT config: per layer qkv + proj 8·N·D²,
    MLP 4·N·D·hidden, attention 4·N²·D; plus the tubelet embedding. ViT-B/16 at 1568 tokens: 360.7 G."""
    tokens = (c.num_frames // c.tubelet_size) * (c.img_size // c.patch_size) ** 2
    hidden = int(c.embed_dim * c.mlp_ratio)
    per_layer = 8 * tokens * c.embed_dim**2 + 4 * tokens * c.embed_dim * hidden + 4 * tokens**2 * c.embed_dim
    embed = 2 * tokens * (3 * c.tubelet_size * c.patch_size**2) * c.embed_dim
    return float(c.depth * per_layer + embed)


def throughput(encoder: str, batch: int, steps: int, impl: str | None) -> dict:
    model, spec = models.create(encoder, dtype="bfloat16", attention_impl=impl)
    c = model.config
    video = jax.random.normal(
        jax.random.key(0), (batch, spec.num_frames, spec.crop_size, spec.crop_size, 3), jnp.bfloat16
    )
    forward = jax.jit(lambda m, x: m.features(x))
    start = time.perf_counter()
    forward(model, video).block_until_ready()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        out = forward(model, video)
    out.block_until_ready()
    seconds = (time.perf_counter() - start) / steps
    clips_per_s = batch / seconds
    is_vit = all(hasattr(c, f) for f in ("tubelet_size", "patch_size", "mlp_ratio", "img_size"))
    flops = vit_flops_per_clip(c) * clips_per_s if is_vit else None  # counted for the video ViTs only
    kind = jax.devices()[0].device_kind
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in kind), None)
    return {
        "encoder": encoder,
        "attention": impl or "auto",
        "batch": batch,
        "compile_s": round(compile_s, 1),
        "clips_per_s": round(clips_per_s, 1),
        "tflops": round(flops / 1e12, 3) if flops else None,
        "mfu": round(flops / 1e12 / peak, 3) if peak and flops else None,
        "device": kind,
        "run": (forward, model, video),
    }


def kernel_profile(run, steps: int, top: int = 15) -> list[dict]:
    """Time per kernel over `steps` calls (jax.profiler): the device's ops on an accelerator, XLA's
    thunks on CPU; each with its share of the summed kernel time."""
    import glob
    import tempfile

    from jax.profiler import ProfileData

    forward, model, video = run
    with tempfile.TemporaryDirectory() as tmp:
        jax.profiler.start_trace(tmp)
        for _ in range(steps):
            out = forward(model, video)
        out.block_until_ready()
        jax.profiler.stop_trace()
        data = ProfileData.from_file(glob.glob(f"{tmp}/**/*.xplane.pb", recursive=True)[0])
    totals: dict[str, float] = {}
    device = [p for p in data.planes if p.name.startswith("/device:")]
    for plane in device or [p for p in data.planes if p.name.startswith("/host:CPU")]:
        for line in plane.lines:
            if not device and not line.name.startswith("tf_XLA"):
                continue  # on CPU: XLA's threads only (not Python's)
            for event in line.events:
                if "ThunkExecutor" in event.name or "Await" in event.name:
                    continue  # wrappers around the kernels, not kernels
                totals[event.name] = totals.get(event.name, 0.0) + event.duration_ns / 1e6 / steps
    whole = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [{"kernel": k[:80], "ms_per_call": round(v, 3), "share": round(v / whole, 3)} for k, v in ranked]


def transfer(encoder: str, batch: int, steps: int) -> dict:
    """Host → device copy of one uint8 batch of views (what the input pipeline hands the extractor)."""
    spec = models.get(encoder).spec
    host = np.random.default_rng(0).integers(
        0, 256, (batch, spec.num_frames, spec.crop_size, spec.crop_size, 3), np.uint8
    )
    jax.device_put(host).block_until_ready()
    start = time.perf_counter()
    for _ in range(steps):
        jax.device_put(host).block_until_ready()
    seconds = (time.perf_counter() - start) / steps
    return {"batch": batch, "mib": round(host.nbytes / 2**20, 1), "clips_per_s": round(batch / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="videomae2-b16", help="a registered ViT (tests: toy-vit)")
    parser.add_argument("--batch", default="32,64", help="comma-separated batch sizes to try")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--impls",
        default="auto,xla,cudnn",
        help="comma-separated encoder.attention choices (auto: the default users get)",
    )
    parser.add_argument("--skip_parity", action="store_true")
    parser.add_argument("--parity_cases", default="", help="comma-separated fixture cases (default: all)")
    parser.add_argument("--profile", action="store_true", help="per-kernel profile of the best setting")
    parser.add_argument("--transfer", action="store_true", help="time host→device copies of a batch")
    parser.add_argument("--families", default="", help="more encoders to time (their own input size)")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()}", flush=True)
    if not args.skip_parity:
        for row in parity([c for c in args.parity_cases.split(",") if c] or None):
            print("parity", json.dumps(row), flush=True)
    best = None
    for batch in [int(b) for b in args.batch.split(",")]:
        for impl in args.impls.split(","):
            try:
                row = throughput(args.encoder, batch, args.steps, impl or None)
            except Exception as error:  # an implementation the backend lacks (cudnn on CPU) is reported
                print(
                    "throughput", json.dumps({"attention": impl, "batch": batch, "error": str(error)[:300]})
                )
                continue
            run = row.pop("run")
            print("throughput", json.dumps(row), flush=True)
            mfu = (
                f"{100 * row['mfu']:.1f}% (goal >= 55%)"
                if row["mfu"]
                else "n/a (no peak known for this device)"
            )
            print(
                f"{row['attention']}, batch {batch}: {row['clips_per_s']} clips/s, "
                f"{row['tflops']} TFLOP/s, MFU {mfu}"
            )
            if best is None or row["clips_per_s"] > best[0]["clips_per_s"]:
                best = (row, run)
    if best:
        row = best[0]
        print(f"best: {row['attention']} attention, batch {row['batch']}: {row['clips_per_s']} clips/s")
        if args.profile:
            for kernel in kernel_profile(best[1], min(args.steps, 5)):
                print("kernel", json.dumps(kernel), flush=True)
    if args.transfer:
        for batch in [int(b) for b in args.batch.split(",")]:
            print("transfer", json.dumps(transfer(args.encoder, batch, args.steps)), flush=True)
    for encoder in [e for e in args.families.split(",") if e]:
        batch = int(args.batch.split(",")[0])
        try:
            row = throughput(encoder, batch, args.steps, None)
        except Exception as error:  # e.g. out of memory at this batch: reported, the run goes on
            row = {"encoder": encoder, "batch": batch, "error": str(error)[:300]}
        row.pop("run", None)
        print("family", json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
