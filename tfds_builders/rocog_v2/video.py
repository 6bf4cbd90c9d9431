"""Decoding RoCoG-v2 videos into resized JPEG frames, in a process pool, in input order.

Each frame is resized as soon as it is decoded, so a full-resolution clip never sits in memory. A file
that cannot be opened, has no video stream, yields no frame or fewer frames than its container lists
(a truncated file whose index survived) is *bad*: the worker returns the reason instead of raising, and
the builder decides whether that stops the build.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from typing import Any

import av
import cv2
import numpy as np
from tqdm import tqdm

from gesture_jax.data.frames import encode_frames
from gesture_jax.data.transforms import resize_short_side
from tfds_builders.rocog_v2.companion import parse_companion

JPEG_QUALITY = 90
# Errors that mean "this file is bad", as opposed to bugs, which should propagate.
_BAD_DATA_ERRORS = (av.error.FFmpegError, OSError, ValueError, EOFError, cv2.error)


@dataclasses.dataclass(frozen=True)
class Task:
    video: str  # absolute path of the mp4
    short_side: int
    companion: str | None = None  # XML to read if it exists (synthetic videos)


@dataclasses.dataclass(frozen=True)
class Result:
    fields: dict[str, Any] | None  # example fields measured from the files; None when bad
    error: str = ""


def _decode(task: Task) -> dict[str, Any]:
    jpegs: list[bytes] = []
    orig: tuple[int, ...] = ()
    size: tuple[int, ...] = ()
    with av.open(task.video) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            if orig and rgb.shape[:2] != orig:
                raise ValueError(f"frame size changes from {orig} to {rgb.shape[:2]}")
            small = resize_short_side(rgb[None], task.short_side)
            orig, size = rgb.shape[:2], small.shape[1:3]
            jpegs.extend(encode_frames(small, quality=JPEG_QUALITY))
        listed, rate = stream.frames, stream.average_rate or stream.guessed_rate
    if not jpegs:
        raise ValueError("no frames decoded")
    if listed and len(jpegs) < listed:
        raise ValueError(f"truncated: decoded {len(jpegs)} of the {listed} frames its index lists")
    return {
        "frames": jpegs,
        "fps": np.float32(float(rate) if rate else 0.0),
        "num_frames": len(jpegs),
        "height": size[0],
        "width": size[1],
        "orig_height": orig[0],
        "orig_width": orig[1],
    }


def load(task: Task) -> Result:
    """Worker: the video's frames and sizes, plus its companion XML's fields when there is one."""
    try:
        fields = _decode(task)
        if task.companion and os.path.exists(task.companion):
            with open(task.companion, "rb") as f:
                fields["companion"] = parse_companion(f.read(), task.companion)
        return Result(fields)
    except _BAD_DATA_ERRORS as e:
        return Result(None, f"{type(e).__name__}: {e}")


class Decoder:
    """load() over many videos, results in input order; its process pool is started on first use and
    serves every split of a build, so a build pays the pool's start-up once."""

    def __init__(self, workers: int | None = None):
        self._workers = workers or len(os.sched_getaffinity(0))
        self._pool: Any = None

    def __enter__(self) -> Decoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.terminate()  # also drops pending work when a bad video stopped the build
            self._pool.join()
            self._pool = None

    def load_all(self, tasks: Sequence[Task], desc: str) -> Iterator[Result]:
        bar = dict(total=len(tasks), desc=desc, unit=" videos", mininterval=1.0)
        if self._workers <= 1 or len(tasks) <= 1:
            yield from tqdm(map(load, tasks), **bar)
            return
        if self._pool is None:
            # "spawn": the parent (TFDS, tqdm, maybe JAX) runs threads, and forking a threaded process
            # can deadlock the child.
            self._pool = multiprocessing.get_context("spawn").Pool(self._workers)
        # Small chunks keep the ordered stream flowing.
        chunksize = max(1, min(8, len(tasks) // (8 * self._workers)))
        yield from tqdm(self._pool.imap(load, tasks, chunksize=chunksize), **bar)
