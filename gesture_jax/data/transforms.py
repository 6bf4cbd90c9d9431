"""Spatial preprocessing of sampled uint8 RGB frames [T, H, W, 3], with OpenCV (or Pillow).

The steps follow the official test paths bit-exactly (see the preprocessing fixture): resizing runs
on uint8 with ``cv2.INTER_LINEAR`` (its output is uint8, not float), sizes use ``int`` truncation and
Python's half-to-even ``round`` where the references do, and the normalisation keeps each
reference's float precision (float32 for UMT/VideoMAE, float64 then float32 for the ViCLIP demo).
Everything stays channels-last; a model transposes if it needs to. Families whose reference resizes
with Pillow (transformers' image processors, mediapy) name the filter in the resize kind:
``short_side_pil_bicubic`` (DINOv2's processor), ``squash_pil_bilinear`` (SigLIP's) and
``squash_pil_lanczos`` (VideoPrism's colab, mediapy's Lanczos); Pillow resamples uint8 to uint8 with its
own support widening on downscaling, which cv2's filters do not reproduce.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import PIL.Image

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def _check_frames(frames: np.ndarray) -> None:
    if not (
        isinstance(frames, np.ndarray)
        and frames.dtype == np.uint8
        and frames.ndim == 4
        and frames.shape[-1] == 3
        and frames.shape[0] >= 1
    ):
        desc = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames).__name__
        raise ValueError(f"frames must be uint8 [T>=1, H, W, 3], got {desc}")


def _check_size(name: str, size: object) -> None:
    if not (isinstance(size, (int, np.integer)) and not isinstance(size, bool) and size >= 1):
        raise ValueError(f"{name} must be an int >= 1, got {size!r}")


def _resize_each(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """cv2.resize every frame to (height, width), INTER_LINEAR on uint8 as the references do."""
    return np.stack(
        [cv2.resize(np.ascontiguousarray(f), (width, height), interpolation=cv2.INTER_LINEAR) for f in frames]
    )


_PIL_FILTERS = {
    "bicubic": PIL.Image.Resampling.BICUBIC,
    "bilinear": PIL.Image.Resampling.BILINEAR,
    "lanczos": PIL.Image.Resampling.LANCZOS,
}


def _resize_each_pil(frames: np.ndarray, height: int, width: int, name: str) -> np.ndarray:
    """Pillow's resize of every uint8 RGB frame to (height, width) with filter `name`."""
    resample = _PIL_FILTERS[name]
    return np.stack(
        [
            np.asarray(PIL.Image.fromarray(np.ascontiguousarray(f)).resize((width, height), resample))
            for f in frames
        ]
    )


def resize_short_side(frames: np.ndarray, size: int, pil_filter: str | None = None) -> np.ndarray:
    """Short side -> size, long side -> int(size * long / short) (UMT/VideoMAE ``Resize``; transformers'
    ``shortest_edge``), with cv2 INTER_LINEAR or Pillow's `pil_filter`."""
    _check_frames(frames)
    _check_size("size", size)
    h, w = frames.shape[1:3]
    if min(h, w) == size:  # the references return such clips untouched
        return frames
    new = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    return _resize_each(frames, *new) if pil_filter is None else _resize_each_pil(frames, *new, pil_filter)


def squash(frames: np.ndarray, size: int, pil_filter: str | None = None) -> np.ndarray:
    """Resize to size x size, ignoring the aspect ratio (ViCLIP demo), with cv2 INTER_LINEAR or Pillow's
    `pil_filter`."""
    _check_frames(frames)
    _check_size("size", size)
    if pil_filter is None:
        return _resize_each(frames, size, size)
    return _resize_each_pil(frames, size, size, pil_filter)


def _check_fits(frames: np.ndarray, size: int, what: str) -> tuple[int, int]:
    _check_frames(frames)
    _check_size("size", size)
    h, w = frames.shape[1:3]
    if size > min(h, w):
        raise ValueError(f"{what} of {size} does not fit frames of {h}x{w}")
    return h, w


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """size x size crop at round((h-size)/2), round((w-size)/2), half-to-even (UMT validation)."""
    h, w = _check_fits(frames, size, "centre crop")
    ((top, left),) = _center_window(h, w, size)
    return frames[:, top : top + size, left : left + size]


def _crop_at(frames: np.ndarray, size: int, window) -> np.ndarray:
    """[1, T, size, size, 3]: the one crop `window(h, w, size)` places."""
    h, w = _check_fits(frames, size, "centre crop")
    ((top, left),) = window(h, w, size)
    return frames[None, :, top : top + size, left : left + size]


def three_crops(frames: np.ndarray, size: int) -> np.ndarray:
    """[3, T, size, size, 3]: crops along the long axis at int(k*(long-size)/2), k = 0, 1, 2 (test).

    Offsets truncate, so the middle view may sit one pixel before the validation centre crop.
    """
    h, w = _check_fits(frames, size, "three crops")
    return np.stack([frames[:, y : y + size, x : x + size] for y, x in _three_windows(h, w, size)])


def _center_window(h: int, w: int, size: int) -> list[tuple[int, int]]:
    return [(round((h - size) / 2), round((w - size) / 2))]


def _center_floor_window(h: int, w: int, size: int) -> list[tuple[int, int]]:
    """transformers' ``center_crop``: (h - size) // 2, (w - size) // 2 (one pixel less than the half-to-even
    rule when the margin is odd and its half rounds up)."""
    return [((h - size) // 2, (w - size) // 2)]


def _three_windows(h: int, w: int, size: int) -> list[tuple[int, int]]:
    if min(h, w) != size:
        raise ValueError(f"three crops need the short side equal to size={size}, got frames of {h}x{w}")
    starts = [int(k * (max(h, w) - size) / 2) for k in range(3)]
    if h >= w:  # the reference crops along H for square frames too
        return [(s, 0) for s in starts]
    return [(0, s) for s in starts]


def normalize(x: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """float32((float32(x) / 255 - mean) / std) computed in float32, channels last."""
    x32 = np.asarray(x).astype(np.float32) / np.float32(255.0)
    return (x32 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def _no_resize(frames: np.ndarray, size: int | None) -> np.ndarray:
    if size is not None:
        raise ValueError(f"resize='none' takes no resize_size, got {size!r}")
    return frames


def _no_crop(frames: np.ndarray, size: int | None) -> np.ndarray:
    h, w = frames.shape[1:3]
    if h != w or (size is not None and size != h):
        raise ValueError(f"crop='none' needs square frames of crop_size={size}, got {h}x{w}")
    return frames[None]


_RESIZERS: dict[str, Callable[[np.ndarray, int | None], np.ndarray]] = {
    "short_side": resize_short_side,
    "squash": squash,
    "none": _no_resize,
    "short_side_pil_bicubic": lambda frames, size: resize_short_side(frames, size, "bicubic"),
    "squash_pil_bilinear": lambda frames, size: squash(frames, size, "bilinear"),
    "squash_pil_lanczos": lambda frames, size: squash(frames, size, "lanczos"),
}
SQUASHES = frozenset(k for k in _RESIZERS if k.startswith("squash"))  # resize kinds that fix the size
_CROPPERS: dict[str, Callable[[np.ndarray, int | None], np.ndarray]] = {
    "center": lambda frames, size: center_crop(frames, size)[None],
    "center_floor": lambda frames, size: _crop_at(frames, size, _center_floor_window),
    "three": three_crops,
    "none": _no_crop,
}


_WINDOWS: dict[str, Callable[[int, int, int], list[tuple[int, int]]]] = {
    "center": _center_window,
    "center_floor": _center_floor_window,
    "three": _three_windows,
    "none": lambda h, w, size: [(0, 0)],
}


def clip_views_of(
    frames: Sequence[np.ndarray],
    clips: Sequence[Sequence[int]],
    *,
    resize: str,
    resize_size: int | None = None,
    crop: str,
    crop_size: int | None = None,
) -> np.ndarray:
    """uint8 [len(clips) × crops, T, S, S, 3]: `spatial_views` of each clip (frames picked by position
    from `frames`), concatenated, with each distinct frame resized once and each crop copied once,
    straight into the result (the same numbers as concatenating `spatial_views`, fewer copies)."""
    resizer, _ = _lookup(_RESIZERS, "resize", resize), _lookup(_CROPPERS, "crop", crop)
    if resize != "none":
        _check_size("resize_size", resize_size)
    if crop != "none":
        _check_size("crop_size", crop_size)
    used = sorted({i for clip in clips for i in clip})
    resized = {i: resizer(frames[i][None], resize_size)[0] for i in used}
    h, w = resized[used[0]].shape[:2]
    if crop == "none":
        _no_crop(resized[used[0]][None], crop_size)
        size = h
    else:
        size = crop_size
        _check_fits(resized[used[0]][None], size, "three crops" if crop == "three" else "centre crop")
    windows = _WINDOWS[crop](h, w, size)
    if any(f.shape[:2] != (h, w) for f in resized.values()):
        raise ValueError(f"frames of one video differ in size: {sorted({f.shape for f in resized.values()})}")
    out = np.empty((len(clips) * len(windows), len(clips[0]), size, size, 3), np.uint8)
    for c, clip in enumerate(clips):
        for k, (top, left) in enumerate(windows):
            view = out[c * len(windows) + k]
            for t, i in enumerate(clip):
                view[t] = resized[i][top : top + size, left : left + size]
    return out


def _lookup(table: dict, kind: str, name: str) -> Callable:
    if name not in table:
        raise ValueError(f"unknown {kind} mode {name!r}; known: {', '.join(table)}")
    return table[name]


def spatial_views(
    frames: np.ndarray,
    *,
    resize: str,
    resize_size: int | None = None,
    crop: str,
    crop_size: int | None = None,
) -> np.ndarray:
    """uint8 [V, T, S, S, 3]: resize ('short_side'|'squash'|'none'), then crop ('center'|'three'|'none').

    V is 3 for 'three' crops, else 1. The 'none' modes need no size (crop 'none' needs square frames).
    """
    _check_frames(frames)
    resizer, cropper = _lookup(_RESIZERS, "resize", resize), _lookup(_CROPPERS, "crop", crop)
    if resize != "none":
        _check_size("resize_size", resize_size)
    if crop != "none":
        _check_size("crop_size", crop_size)
    return cropper(resizer(frames, resize_size), crop_size)


def _umt(crop: str) -> Callable[[np.ndarray, int], np.ndarray]:
    def recipe(frames: np.ndarray, size: int) -> np.ndarray:
        views = spatial_views(frames, resize="short_side", resize_size=size, crop=crop, crop_size=size)
        return normalize(views, IMAGENET_MEAN, IMAGENET_STD)

    return recipe


def _viclip_demo(frames: np.ndarray, size: int) -> np.ndarray:
    # The demo normalises in float64 (numpy defaults) and casts afterwards; keep that order for exactness.
    views = spatial_views(frames, resize="squash", resize_size=size, crop="none")
    x = (views / 255.0 - np.asarray(IMAGENET_MEAN)) / np.asarray(IMAGENET_STD)
    return x.astype(np.float32)


_RECIPES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "umt_val": _umt("center"),  # UMT/VideoMAE validation: resize short side, centre crop
    "umt_test3crop": _umt("three"),  # UMT/VideoMAE test: resize short side, 3 crops along the long side
    "viclip_demo": _viclip_demo,  # ViCLIP demo frames2tensor: squash to size x size
}
RECIPES: tuple[str, ...] = tuple(_RECIPES)


def reference_preprocess(recipe: str, frames: np.ndarray, size: int) -> np.ndarray:
    """float32 [views, T, size, size, 3] from RGB uint8 frames already sampled in time.

    ``frames`` must be RGB: the ViCLIP demo reads BGR with cv2 and flips it, which is the same thing.
    """
    return _lookup(_RECIPES, "preprocessing recipe", recipe)(frames, size)
