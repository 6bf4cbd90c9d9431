"""Contact sheets of the toy videos: one row per class, frames spread evenly over one video.

    python -m tfds_builders.toy_sheets --out DIR

writes ``toy_gestures_synthetic.png``, ``toy_gestures_real.png`` (the seven gestures in both domains) and
``toy_motions_neutral.png`` (the pre-training corpus's everyday motions).
"""

from __future__ import annotations

import argparse
import pathlib
from typing import Callable

import cv2
import numpy as np

from tfds_builders.toy_gestures import render
from tfds_builders.toy_motions import motions
from tfds_builders.toy_motions.toy_motions_dataset_builder import render_motion


def contact_sheet(
    render_fn: Callable, class_names, look: str, *, seed: int = 0, size: int = 64, cols: int = 8
) -> np.ndarray:
    """One row per class of `render_fn(label, look, rng, size=)`: `cols` frames of one video, uint8 RGB."""
    rows = []
    for label, name in enumerate(class_names):
        video, _ = render_fn(label, look, render.example_rng(seed, look, "train", label), size=size)
        idx = np.linspace(0, len(video) - 1, cols).round().astype(int)
        row = np.concatenate(
            [np.pad(video[i], ((1, 1), (1, 1), (0, 0)), constant_values=255) for i in idx], 1
        )
        label_img = np.full((size + 2, 120, 3), 255, np.uint8)
        cv2.putText(
            label_img, name, (3, size // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA
        )
        rows.append(np.concatenate([label_img, row], 1))
    return np.concatenate(rows, 0)


SHEETS = {
    "toy_gestures_synthetic": (render.render_video, render.CLASS_NAMES, "synthetic"),
    "toy_gestures_real": (render.render_video, render.CLASS_NAMES, "real"),
    "toy_motions_neutral": (render_motion, motions.CLASS_NAMES, "neutral"),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder for the PNG contact sheets")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--cols", type=int, default=8)
    args = ap.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (render_fn, class_names, look) in SHEETS.items():
        sheet = contact_sheet(render_fn, class_names, look, seed=args.seed, size=args.size, cols=args.cols)
        path = out / f"{name}.png"
        cv2.imwrite(str(path), sheet[..., ::-1])
        print(path)


if __name__ == "__main__":
    main()
