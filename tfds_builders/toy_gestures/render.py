"""Procedural toy version of RoCoG-v2: stick-figure videos of the 7 arm-and-hand signals.

Two domains with a deliberate gap:

* ``synthetic``: clean renders, flat pastel background, saturated "game" palette, crisp lines.
* ``real``: textured background (smooth noise, gradient, optional stripes), muted clothing,
  Gaussian blur, camera shake, lighting flicker, colour cast and sensor noise.

Every random choice of a video is drawn from the generator passed to ``render_video`` and
returned in its parameter dict (scalars only, keys ``PARAM_DTYPES``). Datasets seed each
example with ``example_rng(seed, domain, split, index)``, so an example does not depend on
generation order or process.

CLI: ``python -m tfds_builders.toy_gestures.render --out DIR`` writes one contact sheet per domain.
"""

from __future__ import annotations

import argparse
import colorsys
import pathlib

import cv2
import numpy as np

from tfds_builders.toy_gestures.motion import CLASS_NAMES, MOTIONS, NUM_CLASSES, arm_tracks

__all__ = [
    "CLASS_NAMES",
    "DOMAINS",
    "NUM_CLASSES",
    "PARAM_DTYPES",
    "SPLIT_IDS",
    "example_rng",
    "render_video",
    "sample_params",
]

DOMAINS = ("synthetic", "real")
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
MIN_FRAMES, MAX_FRAMES = 24, 40
_SS = 2  # supersampling factor of the figure drawing

# Every generator parameter, with its dtype ("int" or "float"); both domains fill every key.
PARAM_DTYPES = {
    "num_frames": "int",
    "lead_in": "int",
    "tail": "int",
    "gesture_frames": "int",
    "repetitions": "int",
    "speed": "float",
    "phase": "float",
    "amplitude": "float",
    "lead_arm": "int",
    "arm_lag": "float",
    "idle_sway": "float",
    "sway_phase": "float",
    "body_scale": "float",
    "center_x": "float",
    "center_y": "float",
    "shoulder_width": "float",
    "limb_thickness": "float",
    "bg_rgb": "int",
    "shirt_rgb": "int",
    "pants_rgb": "int",
    "skin_rgb": "int",
    "blur_sigma": "float",
    "noise_std": "float",
    "shake_std": "float",
    "flicker": "float",
}

# Body-space geometry in units of the body height H (y up, origin at the pelvis).
_NECK_Y, _SHOULDER_Y, _HEAD_Y, _HEAD_R = 0.30, 0.285, 0.385, 0.06
_UPPER, _FORE, _HAND_R = 0.15, 0.14, 0.03
_TOP, _BOTTOM, _HALF_W = 0.62, 0.47, 0.44  # extent of the figure incl. a raised arm
_SKIN = ((241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 56, 34))


def example_rng(seed: int, domain: str, split: str, index: int) -> np.random.Generator:
    """The generator of example ``index`` of ``split`` in ``domain``."""
    return np.random.default_rng([seed, DOMAINS.index(domain), SPLIT_IDS[split], index])


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _pack(rgb) -> int:
    return (int(rgb[0]) << 16) | (int(rgb[1]) << 8) | int(rgb[2])


def _unpack(x: int) -> tuple[int, int, int]:
    return (x >> 16) & 255, (x >> 8) & 255, x & 255


def sample_params(label: int, domain: str, rng: np.random.Generator) -> dict:
    """Draw every per-video parameter (timing, body, colours, camera) for one video."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    m = MOTIONS[label]
    real = domain == "real"
    p: dict = {}
    # Timing: reps at the sampled speed, then squeeze (speed up) or pad (idle) into [24, 40].
    reps = int(rng.integers(m.reps[0], m.reps[1] + 1))
    speed = float(rng.uniform(0.8, 1.25))
    lead_in, tail = int(rng.integers(3, 8)), int(rng.integers(3, 8))
    g = max(1, int(round(reps * m.period / speed)))
    g = min(g, MAX_FRAMES - lead_in - tail)
    extra = max(0, MIN_FRAMES - (lead_in + g + tail)) + int(rng.integers(0, 4))
    extra = min(extra, MAX_FRAMES - (lead_in + g + tail))
    k = int(rng.integers(0, extra + 1))
    lead_in, tail = lead_in + k, tail + extra - k
    p.update(
        num_frames=lead_in + g + tail,
        lead_in=lead_in,
        tail=tail,
        gesture_frames=g,
        repetitions=reps,
        speed=reps * m.period / g,
    )
    p["phase"] = float(rng.uniform(*m.phase)) if m.phase[1] > 0 else 0.0
    p["amplitude"] = float(rng.uniform(0.85, 1.15))
    p["lead_arm"] = int(rng.random() < 0.25)  # mostly right-handed
    p["arm_lag"] = float(rng.uniform(0.0, 0.06))
    p["idle_sway"] = float(rng.uniform(1.0, 5.0))
    p["sway_phase"] = float(rng.uniform(0.0, 2 * np.pi))
    # Body: scale (body height / frame size) and a position that keeps the figure in view.
    s = float(rng.uniform(0.74, 0.85))
    p["body_scale"] = s
    p["center_x"] = float(rng.uniform(_HALF_W * s + 0.03, 1 - _HALF_W * s - 0.03))
    p["center_y"] = float(rng.uniform(_TOP * s + 0.03, 1 - _BOTTOM * s - 0.03))
    p["shoulder_width"] = float(rng.uniform(0.085, 0.12))
    p["limb_thickness"] = float(rng.uniform(2.8, 4.0) if real else rng.uniform(3.0, 4.2))
    # Colours: pastel flat background + saturated clothes (synthetic); earthy, muted (real).
    if real:
        bg = _hsv(rng.uniform(0.05, 0.35), rng.uniform(0.15, 0.5), rng.uniform(0.35, 0.7))
        shirt = _hsv(rng.uniform(0, 1), rng.uniform(0.1, 0.45), rng.uniform(0.15, 0.55))
        pants = _hsv(rng.uniform(0, 1), rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.45))
    else:
        bg = _hsv(rng.uniform(0, 1), rng.uniform(0.08, 0.3), rng.uniform(0.82, 0.97))
        shirt = _hsv(rng.uniform(0, 1), rng.uniform(0.7, 1.0), rng.uniform(0.6, 0.95))
        pants = _hsv(rng.uniform(0, 1), rng.uniform(0.6, 1.0), rng.uniform(0.35, 0.7))
    skin = _SKIN[int(rng.integers(len(_SKIN)))]
    p.update(bg_rgb=_pack(bg), shirt_rgb=_pack(shirt), pants_rgb=_pack(pants), skin_rgb=_pack(skin))
    # Camera: only the real domain is degraded.
    p["blur_sigma"] = float(rng.uniform(0.5, 1.1)) if real else 0.0
    p["noise_std"] = float(rng.uniform(2.0, 7.0)) if real else 0.0
    p["shake_std"] = float(rng.uniform(0.3, 1.2)) if real else 0.0
    p["flicker"] = float(rng.uniform(0.01, 0.05)) if real else 0.0
    assert set(p) == set(PARAM_DTYPES), set(p) ^ set(PARAM_DTYPES)
    return p


def _background(p: dict, domain: str, n: int, rng: np.random.Generator) -> np.ndarray:
    base = np.asarray(_unpack(p["bg_rgb"]), np.float32)
    if domain == "synthetic":
        return np.broadcast_to(base.astype(np.uint8), (n, n, 3)).copy()
    k = int(rng.integers(3, 8))
    noise = cv2.resize(rng.random((k, k, 3), dtype=np.float32), (n, n), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
    tint = rng.uniform(0.7, 1.3, 3).astype(np.float32)  # the gradient changes colour, top to bottom
    img = base * (1 + (rng.uniform(-0.35, 0.35)) * (yy[..., None] - 0.5) * tint)
    img = img + rng.uniform(25, 60) * (noise - 0.5)
    if rng.random() < 0.6:  # stripes (fence / tiles / furrows) at a random orientation
        a = rng.uniform(0, np.pi)
        period = rng.uniform(0.08, 0.3)
        ph = np.cos(a) * xx + np.sin(a) * yy
        img = img + rng.uniform(8, 22) * np.sin(2 * np.pi * ph / period)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _arm_joints(shoulder: np.ndarray, side: float, arm: np.ndarray) -> tuple[np.ndarray, ...]:
    """Elbow, wrist and hand centre (body space, [T, 2]) from a track ``[T, 4]``."""
    th, al = np.radians(arm[:, 0]), np.radians(arm[:, 0] + arm[:, 1])
    du = np.stack([side * np.sin(th), -np.cos(th)], 1)
    df = np.stack([side * np.sin(al), -np.cos(al)], 1)
    elbow = shoulder + _UPPER * arm[:, 2:3] * du
    wrist = elbow + _FORE * arm[:, 3:4] * df
    return elbow, wrist, wrist + 0.6 * _HAND_R * df


def render_video(
    label: int, domain: str, rng: np.random.Generator, *, size: int = 64
) -> tuple[np.ndarray, dict]:
    """Render one video of class ``label`` -> (uint8 ``[T, size, size, 3]`` RGB, params dict)."""
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"label must be in [0, {NUM_CLASSES}), got {label}")
    p = sample_params(label, domain, rng)
    n = size * _SS
    bg = _background(p, domain, n, rng)
    right, left = arm_tracks(label, p)
    T = p["num_frames"]
    h = p["body_scale"] * n
    origin = np.array([p["center_x"] * n, p["center_y"] * n])

    def px(pt) -> tuple[int, int]:  # body space -> fixed-point pixel coordinates (shift=4)
        return (int(round((origin[0] + pt[0] * h) * 16)), int(round((origin[1] - pt[1] * h) * 16)))

    sw = p["shoulder_width"]
    sh_r, sh_l = np.array([-sw, _SHOULDER_Y]), np.array([sw, _SHOULDER_Y])  # person's right = image left
    arms = [(sh_r, *_arm_joints(sh_r, -1.0, right), right), (sh_l, *_arm_joints(sh_l, 1.0, left), left)]
    shirt, pants, skin = (_unpack(p[k]) for k in ("shirt_rgb", "pants_rgb", "skin_rgb"))
    th = max(1, int(round(p["limb_thickness"] * _SS)))
    th_torso = max(2, int(round(p["limb_thickness"] * _SS * 1.9)))
    legs = [((-0.05, 0.0), (-0.065, -0.22), (-0.08, -0.45)), ((0.05, 0.0), (0.065, -0.22), (0.08, -0.45))]
    line = lambda img, a, b, c, t: cv2.line(img, px(a), px(b), c, t, cv2.LINE_AA, 4)  # noqa: E731
    circle = lambda img, a, r, c: cv2.circle(img, px(a), int(round(r * h * 16)), c, -1, cv2.LINE_AA, 4)  # noqa: E731

    frames = np.empty((T, size, size, 3), np.uint8)
    for t in range(T):
        img = bg.copy()
        for hip, knee, foot in legs:
            line(img, hip, knee, pants, th)
            line(img, knee, foot, pants, th)
        line(img, (0.0, 0.0), (0.0, _NECK_Y), shirt, th_torso)
        line(img, sh_r, sh_l, shirt, th)
        circle(img, (0.0, _HEAD_Y), _HEAD_R, skin)
        for sh, elbow, wrist, hand, arm in arms:
            line(img, sh, elbow[t], shirt, th)
            line(img, elbow[t], wrist[t], skin, th)
            near = 1.0 + 0.8 * (1.0 - min(arm[t, 2], arm[t, 3]))  # hands near the camera look bigger
            circle(img, hand[t], _HAND_R * near, skin)
        frames[t] = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    if domain == "real":
        frames = _degrade(frames, p, rng)
    return frames, p


def _degrade(frames: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Camera shake, blur, flicker + colour cast and sensor noise of the ``real`` domain."""
    T, size = frames.shape[0], frames.shape[1]
    drift = np.cumsum(rng.normal(0, 0.3 * p["shake_std"], (T, 2)), axis=0)
    shake = drift - drift.mean(0) + rng.normal(0, p["shake_std"], (T, 2))
    out = np.empty(frames.shape, np.float32)
    for t in range(T):
        m = np.float32([[1, 0, shake[t, 0]], [0, 1, shake[t, 1]]])
        f = cv2.warpAffine(
            frames[t], m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        out[t] = cv2.GaussianBlur(f, (0, 0), p["blur_sigma"])
    cast = rng.uniform(0.9, 1.1, 3).astype(np.float32)
    gain = 1.0 + rng.normal(0, p["flicker"], (T, 1, 1, 1)).astype(np.float32)
    out *= gain * cast
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(p["noise_std"])
    return np.clip(out, 0, 255).astype(np.uint8)


def contact_sheet(domain: str, *, seed: int = 0, size: int = 64, cols: int = 8) -> np.ndarray:
    """One row per class: ``cols`` frames spread evenly over one video, uint8 RGB."""
    rows = []
    for label in range(NUM_CLASSES):
        video, _ = render_video(label, domain, example_rng(seed, domain, "train", label), size=size)
        idx = np.linspace(0, len(video) - 1, cols).round().astype(int)
        row = np.concatenate(
            [np.pad(video[i], ((1, 1), (1, 1), (0, 0)), constant_values=255) for i in idx], 1
        )
        label_img = np.full((size + 2, 110, 3), 255, np.uint8)
        cv2.putText(
            label_img,
            CLASS_NAMES[label],
            (3, size // 2 + 5),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
        rows.append(np.concatenate([label_img, row], 1))
    return np.concatenate(rows, 0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder for the PNG contact sheets")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--cols", type=int, default=8)
    args = ap.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for domain in DOMAINS:
        sheet = contact_sheet(domain, seed=args.seed, size=args.size, cols=args.cols)
        path = out / f"toy_gestures_{domain}.png"
        cv2.imwrite(str(path), sheet[..., ::-1])
        print(path)


if __name__ == "__main__":
    main()
