"""JPEG encoding/decoding of video frames, shared by the TFDS builders and the input pipeline.

Frames are RGB in memory; JPEG bytes are produced by OpenCV, which works in BGR, so the channel
order is flipped on the way in and back on the way out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np


def encode_frames(frames_rgb: np.ndarray | Iterable[np.ndarray], quality: int = 90) -> list[bytes]:
    """uint8 RGB frames ``[T, H, W, 3]`` -> one JPEG (bytes) per frame."""
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]
    out = []
    for frame in frames_rgb:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3:
            raise ValueError(f"expected uint8 [H, W, 3] frames, got {frame.dtype} {frame.shape}")
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]), params)
        if not ok:
            raise RuntimeError("cv2.imencode failed")
        out.append(buf.tobytes())
    return out


def decode_frame(jpeg: bytes) -> np.ndarray:
    """One JPEG -> uint8 ``[H, W, 3]`` RGB."""
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("could not decode JPEG frame")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)  # contiguous, unlike img[..., ::-1]: later copies are fast


def decode_frames(jpegs: Sequence[bytes], indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """JPEG frames -> uint8 ``[T, H, W, 3]`` RGB; with ``indices`` only those frames, in that order.

    ``jpegs`` may be a list of bytes or the object array a TFDS data source returns.
    """
    if indices is None:
        indices = range(len(jpegs))
    decoded = [decode_frame(jpegs[int(i)]) for i in indices]
    if not decoded:
        raise ValueError("no frames to decode")
    return np.stack(decoded)
