"""Position tables and how each family adapts them to another geometry.

- VideoMAE v1/V2: a fixed sinusoid over the flat (t, h, w) index, built for exactly N positions, so fewer
  frames take the first rows (truncation).
- UMT: the 8×14×14 sinusoid, resized per frame to the new grid (bicubic) and then over time (linear),
  both as PyTorch's ``F.interpolate(align_corners=False)`` without antialiasing. ``jax.image.resize``
  differs (cubic a = −0.5, antialiased when shrinking), so the resamplers are written out here.
- ViCLIP: a learned temporal table, linearly interpolated for more frames and truncated for fewer.

Tables are computed in float64 and cast to float32, as the references' numpy paths do.
"""

from __future__ import annotations

import numpy as np

UMT_BASE_GRID = (8, 14, 14)  # the geometry UMT's table is defined for (8 frames × 224² / 16²)
_CUBIC_A = -0.75  # PyTorch's bicubic coefficient


def sinusoid_table(num_positions: int, dim: int) -> np.ndarray:
    """[1, n, D]: sin (even j) / cos (odd j) of p / 10000^(2⌊j/2⌋/D)."""
    pos = np.arange(num_positions, dtype=np.float64)[:, None]
    j = np.arange(dim)
    angle = pos / np.power(10000.0, 2 * (j // 2) / dim)
    return np.where(j % 2 == 0, np.sin(angle), np.cos(angle))[None].astype(np.float32)


def umt_table(grid: tuple[int, int, int], dim: int) -> np.ndarray:
    """UMT's table [1, T'·P·P, D] for a (T', P, P) token grid, derived from the 8×14×14 sinusoid."""
    t_new, h_new, w_new = grid
    if h_new != w_new:
        raise ValueError(f"UMT position tables need a square grid, got {h_new}×{w_new}")
    t0, h0, w0 = UMT_BASE_GRID
    table = sinusoid_table(t0 * h0 * w0, dim)[0].astype(np.float64).reshape(t0, h0, w0, dim)
    if h_new != h0:
        table = resize_bicubic(resize_bicubic(table, h_new, axis=1), w_new, axis=2)
    if t_new != t0:
        table = resize_linear(table, t_new, axis=0)
    return table.reshape(1, -1, dim).astype(np.float32)


def resize_temporal(table: np.ndarray, num_frames: int) -> np.ndarray:
    """ViCLIP's temporal table [1, T, W] for another frame count: linear up, truncated down."""
    if num_frames <= table.shape[1]:
        return table[:, :num_frames]
    return resize_linear(table.astype(np.float64), num_frames, axis=1).astype(table.dtype)


def linear_taps(n: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (i0, i1) and weight of i1 of ``F.interpolate(mode="linear", align_corners=False)``."""
    s = np.maximum((n / size) * (np.arange(size) + 0.5) - 0.5, 0.0)
    i0 = np.floor(s).astype(int)
    return i0, np.minimum(i0 + 1, n - 1), s - i0


def resize_linear(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """``F.interpolate(mode="linear", align_corners=False)`` along one axis."""
    i0, i1, w = linear_taps(x.shape[axis], size)
    w = _expand(w, x.ndim, axis)
    return np.take(x, i0, axis=axis) * (1 - w) + np.take(x, i1, axis=axis) * w


def resize_bicubic(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """One axis of ``F.interpolate(mode="bicubic", align_corners=False)``; the 2-D resize is separable."""
    n = x.shape[axis]
    s = (n / size) * (np.arange(size) + 0.5) - 0.5  # not clamped, unlike linear
    base = np.floor(s).astype(int)
    u = s - base
    a = _CUBIC_A
    near = lambda d: ((a + 2) * d - (a + 3)) * d * d + 1  # noqa: E731  |d| <= 1
    far = lambda d: ((a * d - 5 * a) * d + 8 * a) * d - 4 * a  # noqa: E731  1 < |d| < 2
    weights = (far(u + 1), near(u), near(1 - u), far(2 - u))
    out = 0.0
    for offset, w in zip(range(-1, 3), weights):
        idx = np.clip(base + offset, 0, n - 1)  # edge taps repeat the border
        out = out + np.take(x, idx, axis=axis) * _expand(w, x.ndim, axis)
    return out


def _expand(w: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = -1
    return w.reshape(shape)
