"""Decoding RoCoG-v2 videos into resized JPEG frames, in a process pool, in input order.

Each frame is resized as soon as it is decoded, so a full-resolution clip never sits in memory. A file
that cannot be opened, has no video stream, yields no frame or fewer frames than its container lists
(a truncated file whose index survived) is *bad*: the worker returns the reason instead of raising, and
the builder decides whether that stops the build.

Real encoders' mp4s may carry an edit list that hides a few leading frames (B-frame priming): the
container lists every sample, the demuxer flags the hidden ones as discarded, and the decoder never
returns them. Such a shortfall is tolerated when the discard flags account for it exactly, and is
reported (``frames_hidden``); a shortfall from missing packets is a truncation.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from typing import Any

import av
import cv2
import numpy as np
from tqdm import tqdm

from gesture_jax.data.frames import encode_frames
from gesture_jax.data.transforms import resize_short_side

JPEG_QUALITY = 90
# Errors that mean "this file is bad", as opposed to bugs, which should propagate.
_BAD_DATA_ERRORS = (av.error.FFmpegError, OSError, ValueError, EOFError, cv2.error)


@dataclasses.dataclass(frozen=True)
class Task:
    video: str  # absolute path of the mp4
    short_side: int


@dataclasses.dataclass(frozen=True)
class Result:
    fields: dict[str, Any] | None  # example fields measured from the files; None when bad
    error: str = ""


def _decode(task: Task) -> dict[str, Any]:
    jpegs: list[bytes] = []
    orig: tuple[int, ...] = ()
    size: tuple[int, ...] = ()
    demuxed = discarded = 0  # packets holding data; of those, flagged discard by an edit list
    with av.open(task.video) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for packet in container.demux(stream):  # the last, empty packet flushes the decoder
            if packet.size:
                demuxed += 1
                discarded += bool(packet.is_discard)
            for frame in packet.decode():
                rgb = frame.to_ndarray(format="rgb24")
                if orig and rgb.shape[:2] != orig:
                    raise ValueError(f"frame size changes from {orig} to {rgb.shape[:2]}")
                small = resize_short_side(rgb[None], task.short_side)
                orig, size = rgb.shape[:2], small.shape[1:3]
                jpegs.extend(encode_frames(small, quality=JPEG_QUALITY))
        listed, rate = stream.frames, stream.average_rate or stream.guessed_rate
    if not jpegs:
        raise ValueError("no frames decoded")
    hidden = 0
    if listed and len(jpegs) < listed:
        if demuxed < listed or listed - len(jpegs) != discarded:
            raise ValueError(
                f"truncated: decoded {len(jpegs)} of the {listed} frames its index lists "
                f"({demuxed} packets read, {discarded} hidden by an edit list)"
            )
        hidden = discarded
    return {
        "frames": jpegs,
        "fps": np.float32(float(rate) if rate else 0.0),
        "num_frames": len(jpegs),
        "height": size[0],
        "width": size[1],
        "orig_height": orig[0],
        "orig_width": orig[1],
        "frames_hidden": hidden,
    }


def load(task: Task) -> Result:
    """Worker: the video's frames and sizes, and how many frames an edit list hid."""
    try:
        return Result(_decode(task))
    except _BAD_DATA_ERRORS as e:
        return Result(None, f"{type(e).__name__}: {e}")


def _ignore_interrupts() -> None:
    """A decoding worker leaves Ctrl-C to the build's process, which stops the pool: the workers print
    no tracebacks of their own over its one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
            self._pool = multiprocessing.get_context("spawn").Pool(
                self._workers, initializer=_ignore_interrupts
            )
        # Small chunks keep the ordered stream flowing.
        chunksize = max(1, min(8, len(tasks) // (8 * self._workers)))
        yield from tqdm(self._pool.imap(load, tasks, chunksize=chunksize), **bar)
