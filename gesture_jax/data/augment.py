"""Training augmentations on uint8 clips [T, H, W, 3], drawn from an explicit numpy Generator.

Each op draws its parameters once per clip and applies them to every frame, so a clip stays one
coherent video (no per-frame jitter of crop or colour). The ops follow torchvision's
``RandomResizedCrop`` and ``ColorJitter`` (same parameter rules, uint8 in and out), in OpenCV/numpy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import cv2
import numpy as np

from gesture_jax.data import transforms

_GRAY_WEIGHTS = np.array([0.2989, 0.587, 0.114], np.float32)  # torchvision's rgb_to_grayscale


def resized_crop_box(
    height: int,
    width: int,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a crop covering `scale` of the area at aspect w/h in `ratio` (log-uniform).

    torchvision's rule: up to 10 draws, then a centre crop with the ratio clamped into `ratio`.
    """
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def random_resized_crop(
    frames: np.ndarray,
    size: int,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> np.ndarray:
    """uint8 [T, size, size, 3]: one random box (see `resized_crop_box`) cut from every frame, resized."""
    transforms._check_frames(frames)
    top, left, h, w = resized_crop_box(frames.shape[1], frames.shape[2], rng, scale, ratio)
    return transforms.squash(frames[:, top : top + h, left : left + w], size)


def horizontal_flip(frames: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frames[:, :, ::-1])


def _gray(x: np.ndarray) -> np.ndarray:
    """float32 [..., 1] luma, truncated to integers as torchvision does for uint8 images."""
    return np.floor(x.astype(np.float32) @ _GRAY_WEIGHTS)[..., None]


def _blend(x: np.ndarray, other: np.ndarray | float, factor: float) -> np.ndarray:
    """uint8 factor·x + (1−factor)·other, clipped (so nothing wraps) then truncated, as torchvision."""
    return np.clip(factor * x.astype(np.float32) + (1.0 - factor) * other, 0, 255).astype(np.uint8)


def _brightness(x: np.ndarray, factor: float) -> np.ndarray:
    return _blend(x, 0.0, factor)


def _contrast(x: np.ndarray, factor: float) -> np.ndarray:
    # Per-frame mean grey, as torchvision does on a [T, C, H, W] tensor; the factor is the clip's.
    return _blend(x, _gray(x).mean(axis=(1, 2, 3), keepdims=True), factor)


def _saturation(x: np.ndarray, factor: float) -> np.ndarray:
    return _blend(x, _gray(x), factor)


def _hue(x: np.ndarray, shift: float) -> np.ndarray:
    """Rotates hue by `shift` turns in OpenCV's uint8 HSV, whose H runs over [0, 180)."""
    t, h, w, _ = x.shape
    hsv = cv2.cvtColor(x.reshape(t * h, w, 3), cv2.COLOR_RGB2HSV)  # one call for the whole clip
    hsv[..., 0] = (hsv[..., 0].astype(np.int32) + round(shift * 180)) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).reshape(x.shape)


_JITTERS: tuple[Callable[[np.ndarray, float], np.ndarray], ...] = (_brightness, _contrast, _saturation, _hue)


def color_jitter(
    frames: np.ndarray,
    rng: np.random.Generator,
    brightness: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
    hue: float = 0.0,
) -> np.ndarray:
    """torchvision ColorJitter on a uint8 clip: factors in [max(0, 1−x), 1+x] (hue shift in [−x, x]).

    The four ops run in a random order, each uint8 → uint8; a strength of 0 skips its op.
    """
    transforms._check_frames(frames)
    if not 0 <= hue <= 0.5:
        raise ValueError(f"hue must be in [0, 0.5], got {hue}")
    order = rng.permutation(len(_JITTERS))
    factors = [rng.uniform(max(0.0, 1 - x), 1 + x) if x else None for x in (brightness, contrast, saturation)]
    factors.append(rng.uniform(-hue, hue) if hue else None)
    out = np.ascontiguousarray(frames)
    for i in order:
        if factors[i] is not None:
            out = _JITTERS[i](out, factors[i])
    return out


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """What `augment` does to a training clip.

    The default crop scale starts at 0.25 rather than torchvision's 0.08: smaller boxes often cut off
    the arms that carry the signal. `hflip` is off by default because a mirror image can change what an
    arm signal means (e.g. which arm is raised); turn it on only for classes that are mirror-symmetric.
    """

    crop_scale: tuple[float, float] = (0.25, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    hflip: bool = False  # flip with probability 1/2

    def __post_init__(self) -> None:
        lo, hi = self.crop_scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < lo <= hi <= 1, got {self.crop_scale}")
        if not 0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise ValueError(f"crop_ratio must satisfy 0 < lo <= hi, got {self.crop_ratio}")
        if min(self.brightness, self.contrast, self.saturation) < 0 or not 0 <= self.hue <= 0.5:
            raise ValueError("brightness, contrast and saturation must be >= 0 and hue in [0, 0.5]")


def augment(frames: np.ndarray, size: int, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """uint8 [T, size, size, 3]: random resized crop, colour jitter, then (if asked) a coin-flip mirror.

    The flip coin is drawn last, so turning `hflip` on leaves the crop and colours of every clip as they were.
    """
    out = random_resized_crop(frames, size, rng, config.crop_scale, config.crop_ratio)
    out = color_jitter(out, rng, config.brightness, config.contrast, config.saturation, config.hue)
    if config.hflip and rng.random() < 0.5:
        out = horizontal_flip(out)
    return out
