"""Input pipeline speed per core: TFDS (array_record of JPEG frames) through grain against PyAV on mp4.

    .venv/bin/python bench/input_pipeline.py [--videos 24] [--frames 90] [--height 720] [--width 1280]

Writes a RoCoG-v2-shaped release of `--videos` synthetic mp4 clips (libx264, moving shapes), builds it
with our TFDS builder (frames stored as JPEG at a 224-pixel short side, once), then turns every video
into the same model input two ways, on one pinned core:
- ours: ``pipeline.eval_batches`` over the built split (grain, one worker thread): reads the record,
  decodes only the sampled frames, resizes and crops;
- PyAV: opens each mp4, decodes frames up to the last sampled one, then the same sampling, resize and
  crop (``transforms.clip_views_of``), as a decode-per-clip loader does.
Both produce uint8 [views, frames, 224, 224, 3] per video; the output equality is not expected (the
stored frames went through JPEG), their shapes are checked. Printed: clips/s per core and the ratio.
The one-off build time is printed too: it is paid once per dataset, the per-clip cost every epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_release(root: str, num_videos: int, frames: int, height: int, width: int, fps: int) -> None:
    """A `real_ground` part in RoCoG-v2's layout: every video in the test split (others get one each)."""
    import av

    from tfds_builders.rocog_v2 import names

    rng = np.random.default_rng(0)
    lines = []
    for i in range(num_videos):
        label = i % len(names.CLASS_NAMES)
        rel = f"real/ground/{names.CLASS_NAMES[label]}/S{i:02d}_10m_ground_label{label + 1}_start{i}.mp4"
        lines.append(f"{rel} {label}\n")
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with av.open(path, "w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            base = rng.integers(0, 256, (height // 8, width // 8, 3), np.uint8).repeat(8, 0).repeat(8, 1)
            for t in range(frames):  # a textured background and a moving block: realistic bit rates
                image = base.copy()
                y, x = (t * 7) % (height - 64), (t * 13) % (width - 64)
                image[y : y + 64, x : x + 64] = 255 - image[y : y + 64, x : x + 64]
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    with open(os.path.join(root, "class_dict.json"), "w") as f:
        json.dump({str(i): n for i, n in enumerate(names.CLASS_NAMES)}, f)
    os.makedirs(os.path.join(root, "annotations"))
    for split in ("train", "test", "train_tsonly", "val_tsonly"):
        with open(os.path.join(root, "annotations", f"real_ground_{split}.txt"), "w") as f:
            f.writelines(lines if split == "test" else lines[:1])


def pyav_clip(path: str, spec) -> np.ndarray:
    """The same views as the pipeline's, decoding the mp4 itself (frames up to the last one sampled)."""
    import av

    from gesture_jax.data import pipeline, transforms

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        num_frames = stream.frames or sum(1 for _ in container.decode(stream))
        if not stream.frames:
            container.seek(0)
        per_clip = pipeline.clip_frame_indices(spec, num_frames)
        last = max(max(idx) for idx in per_clip)
        decoded = []
        for frame in container.decode(stream):
            decoded.append(frame.to_ndarray(format="rgb24"))
            if len(decoded) > last:
                break
    return transforms.clip_views_of(
        decoded,
        per_clip,
        resize=spec.resize,
        resize_size=spec.resize_size,
        crop=spec.crop,
        crop_size=spec.crop_size,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=90, help="frames per video (3 s at 30 fps)")
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--encoder", default="", help="use this registered encoder's test protocol")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the videos; the best counts")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    core = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {core})  # one core for both sides: the figures are per core
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import cv2

    cv2.setNumThreads(1)

    import tfds_builders
    from gesture_jax.data import datasets, pipeline
    from gesture_jax.data.spec import VideoSpec
    from gesture_jax.models import registry

    failures = tfds_builders.register_all()
    if "rocog_v2" in failures:
        raise failures["rocog_v2"]

    spec = registry.get(args.encoder).spec if args.encoder else VideoSpec(num_frames=16, sampler="tsn")
    with tempfile.TemporaryDirectory() as tmp:
        manual, data_dir = os.path.join(tmp, "release"), os.path.join(tmp, "tfds")
        write_release(manual, args.videos, args.frames, args.height, args.width, args.fps)
        start = time.perf_counter()
        datasets.build("rocog_v2/real_ground", data_dir, manual_dir=manual)
        build_s = time.perf_counter() - start
        split = datasets.open_split("rocog_v2/real_ground:test", data_dir)
        paths = [os.path.join(manual, split.source[i]["path"].decode()) for i in range(len(split))]

        def ours():
            shapes = set()
            for batch in pipeline.eval_batches(
                split.source, spec, global_batch=4, row_start=0, rows=4, num_threads=1, prefetch=4
            ):
                shapes.add(batch["video"][batch["mask"]].shape[1:])
            return shapes

        def pyav():
            return {pyav_clip(p, spec).shape for p in paths}

        seconds = {}
        for name, fn in (("grain over TFDS", ours), ("PyAV decode of mp4", pyav)):
            best = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                shapes = fn()
                best = min(best, time.perf_counter() - start)
            if shapes != {pipeline.view_shape(spec)}:
                raise SystemExit(
                    f"{name} produced views of shapes {shapes}, expected {pipeline.view_shape(spec)}"
                )
            seconds[name] = best

    rates = {n: args.videos / s for n, s in seconds.items()}
    ratio = rates["grain over TFDS"] / rates["PyAV decode of mp4"]
    print(
        f"\nInput pipeline: {args.videos} videos of {args.frames} frames at {args.width}x{args.height}, "
        f"spec {spec.num_frames} frames '{spec.sampler}' × {spec.num_views} views; "
        f"1 core ({os.uname().machine})"
    )
    for name, rate in rates.items():
        print(f"{name:20} {rate:8.2f} clips/s per core")
    print(f"one-off TFDS build: {build_s:.1f} s ({args.videos / build_s:.2f} videos/s)")
    print(f"ratio grain/PyAV: {ratio:.2f}x (goal >= 3)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"args": vars(args), "clips_per_s": rates, "build_s": build_s, "ratio": ratio}, f, indent=2
            )


if __name__ == "__main__":
    main()
