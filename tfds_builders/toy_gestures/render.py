"""Procedural toy version of RoCoG-v2: stick-figure videos of the 7 arm-and-hand signals.

Two domains with a deliberate gap:

* ``synthetic``: clean renders, flat pastel background, saturated "game" palette, crisp lines.
* ``real``: textured background (smooth noise, gradient, optional stripes), muted clothing,
  Gaussian blur, camera shake, lighting flicker, colour cast and sensor noise.

A third look, ``neutral``, is never used for the gestures: it is the look of the pre-training corpus
(``toy_motions``): mid-tone backgrounds with a soft gradient and smooth blotches but no stripes,
medium-saturation clothes, and a milder camera (less blur, shake and noise than ``real``).

The figure is drawn from per-frame *parts* (`draw`): two arm tracks (``motion.ARM_FIELDS``) and,
optionally, whole-body tracks (lean, torso foreshortening, width for turning, offset, leg joints)
that the gestures leave at rest.

Every random choice of a video is drawn from the generator passed to ``render_video`` and
returned in its parameter dict (scalars only, keys ``PARAM_DTYPES``). Datasets seed each
example with ``example_rng(seed, domain, split, index)``, so an example does not depend on
generation order or process.

``python -m tfds_builders.toy_sheets --out DIR`` writes a contact sheet of every look.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from tfds_builders.toy_gestures.motion import CLASS_NAMES, MOTIONS, NUM_CLASSES, ClassMotion, arm_tracks

__all__ = [
    "CLASS_NAMES",
    "DOMAINS",
    "LOOKS",
    "NUM_CLASSES",
    "PARAM_DTYPES",
    "SPLIT_IDS",
    "draw",
    "example_rng",
    "render_video",
    "sample_appearance",
    "sample_params",
    "sample_timing",
]

DOMAINS = ("synthetic", "real")  # the gesture domains
LOOKS = (*DOMAINS, "neutral")  # every look the renderer draws; example_rng numbers them in this order
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
_LEG = ((0.05, 0.0), (0.065, -0.22), (0.08, -0.45))  # hip, knee, foot of the left leg (x mirrored)
_SKIN = ((241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 56, 34))


def example_rng(seed: int, domain: str, split: str, index: int) -> np.random.Generator:
    """The generator of example ``index`` of ``split`` in ``domain`` (a look of `LOOKS`)."""
    return np.random.default_rng([seed, LOOKS.index(domain), SPLIT_IDS[split], index])


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _pack(rgb) -> int:
    return (int(rgb[0]) << 16) | (int(rgb[1]) << 8) | int(rgb[2])


def _unpack(x: int) -> tuple[int, int, int]:
    return (x >> 16) & 255, (x >> 8) & 255, x & 255


def sample_params(label: int, domain: str, rng: np.random.Generator) -> dict:
    """Draw every per-video parameter (timing, body, colours, camera) of one gesture video."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    p = sample_timing(MOTIONS[label], rng)
    p.update(sample_appearance(domain, rng))
    assert set(p) == set(PARAM_DTYPES), set(p) ^ set(PARAM_DTYPES)
    return p


def sample_timing(m: ClassMotion, rng: np.random.Generator) -> dict:
    """Timing and style of one performance of motion `m`: repetitions at a sampled speed, squeezed
    (sped up) or padded (idle) into [MIN_FRAMES, MAX_FRAMES], start phase, size, leading arm."""
    reps = int(rng.integers(m.reps[0], m.reps[1] + 1))
    speed = float(rng.uniform(0.8, 1.25))
    lead_in, tail = int(rng.integers(3, 8)), int(rng.integers(3, 8))
    g = max(1, int(round(reps * m.period / speed)))
    g = min(g, MAX_FRAMES - lead_in - tail)
    extra = max(0, MIN_FRAMES - (lead_in + g + tail)) + int(rng.integers(0, 4))
    extra = min(extra, MAX_FRAMES - (lead_in + g + tail))
    k = int(rng.integers(0, extra + 1))
    lead_in, tail = lead_in + k, tail + extra - k
    p = dict(
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
    return p


def sample_appearance(look: str, rng: np.random.Generator) -> dict:
    """Body (scale, position in view, build), colours and camera of one video in `look`."""
    if look not in LOOKS:
        raise ValueError(f"look must be one of {LOOKS}, got {look!r}")
    real, neutral = look == "real", look == "neutral"
    p: dict = {}
    s = float(rng.uniform(0.74, 0.85))  # body height / frame size; the position keeps it in view
    p["body_scale"] = s
    p["center_x"] = float(rng.uniform(_HALF_W * s + 0.03, 1 - _HALF_W * s - 0.03))
    p["center_y"] = float(rng.uniform(_TOP * s + 0.03, 1 - _BOTTOM * s - 0.03))
    p["shoulder_width"] = float(rng.uniform(0.085, 0.12))
    thickness = (2.8, 4.0) if real else (2.9, 4.1) if neutral else (3.0, 4.2)
    p["limb_thickness"] = float(rng.uniform(*thickness))
    # Colours: pastel flat background + saturated clothes (synthetic); earthy, muted (real); mid-tone
    # background of any hue + medium-saturation clothes (neutral).
    if real:
        bg = _hsv(rng.uniform(0.05, 0.35), rng.uniform(0.15, 0.5), rng.uniform(0.35, 0.7))
        shirt = _hsv(rng.uniform(0, 1), rng.uniform(0.1, 0.45), rng.uniform(0.15, 0.55))
        pants = _hsv(rng.uniform(0, 1), rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.45))
    elif neutral:
        bg = _hsv(rng.uniform(0, 1), rng.uniform(0.05, 0.4), rng.uniform(0.45, 0.9))
        shirt = _hsv(rng.uniform(0, 1), rng.uniform(0.3, 0.75), rng.uniform(0.2, 0.8))
        pants = _hsv(rng.uniform(0, 1), rng.uniform(0.25, 0.7), rng.uniform(0.15, 0.6))
    else:
        bg = _hsv(rng.uniform(0, 1), rng.uniform(0.08, 0.3), rng.uniform(0.82, 0.97))
        shirt = _hsv(rng.uniform(0, 1), rng.uniform(0.7, 1.0), rng.uniform(0.6, 0.95))
        pants = _hsv(rng.uniform(0, 1), rng.uniform(0.6, 1.0), rng.uniform(0.35, 0.7))
    skin = _SKIN[int(rng.integers(len(_SKIN)))]
    p.update(bg_rgb=_pack(bg), shirt_rgb=_pack(shirt), pants_rgb=_pack(pants), skin_rgb=_pack(skin))
    # Camera: the synthetic look is clean; neutral is milder than real.
    if real:
        p["blur_sigma"] = float(rng.uniform(0.5, 1.1))
        p["noise_std"] = float(rng.uniform(2.0, 7.0))
        p["shake_std"] = float(rng.uniform(0.3, 1.2))
        p["flicker"] = float(rng.uniform(0.01, 0.05))
    elif neutral:
        p["blur_sigma"] = float(rng.uniform(0.3, 0.8))
        p["noise_std"] = float(rng.uniform(0.5, 4.0))
        p["shake_std"] = float(rng.uniform(0.1, 0.8))
        p["flicker"] = float(rng.uniform(0.0, 0.03))
    else:
        p.update(blur_sigma=0.0, noise_std=0.0, shake_std=0.0, flicker=0.0)
    return p


def _background(p: dict, look: str, n: int, rng: np.random.Generator) -> np.ndarray:
    base = np.asarray(_unpack(p["bg_rgb"]), np.float32)
    if look == "synthetic":
        return np.broadcast_to(base.astype(np.uint8), (n, n, 3)).copy()
    if look == "neutral":  # soft gradient and smooth blotches, no stripes
        k = int(rng.integers(2, 5))
        noise = cv2.resize(rng.random((k, k, 3), dtype=np.float32), (n, n), interpolation=cv2.INTER_CUBIC)
        yy = np.linspace(-0.5, 0.5, n, dtype=np.float32)[:, None, None]
        img = base * (1 + rng.uniform(-0.25, 0.25) * yy) + rng.uniform(8, 30) * (noise - 0.5)
        return np.clip(img, 0, 255).astype(np.uint8)
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
    right, left = arm_tracks(label, p)
    return draw({"right": right, "left": left}, p, domain, rng, size=size), p


BODY_PARTS = ("lean", "torso", "width", "offset", "right_leg", "left_leg")


def draw(parts: dict, p: dict, look: str, rng: np.random.Generator, *, size: int = 64) -> np.ndarray:
    """The figure performing `parts` over the background of `look` -> uint8 ``[T, size, size, 3]``.

    `parts` holds ``right`` and ``left`` arm tracks ``[T, 4]`` and, optionally, whole-body tracks
    (`BODY_PARTS`): ``lean`` [T] degrees of the upper body about the pelvis (positive tilts towards
    the image's left), ``torso`` [T] vertical scale of the upper body (< 1: bent forward), ``width``
    [T] horizontal scale of the whole figure (< 1: turned away from the camera), ``offset`` [T, 2]
    in body heights (y up), ``right_leg``/``left_leg`` [T, 4] displacements (dx, dy) of knee and foot.
    Body geometry, colours and camera come from `p` (`sample_appearance`'s fields).
    """
    unknown = sorted(set(parts) - {"right", "left", *BODY_PARTS})
    if unknown:
        raise ValueError(f"unknown body parts {unknown}; expected right, left and some of {BODY_PARTS}")
    n = size * _SS
    bg = _background(p, look, n, rng)
    right, left = parts["right"], parts["left"]
    T = len(right)
    h = p["body_scale"] * n
    origin = np.array([p["center_x"] * n, p["center_y"] * n])
    upper, lower = _body_transforms(parts, T)

    def px(pt) -> tuple[int, int]:  # body space -> fixed-point pixel coordinates (shift=4)
        return (int(round((origin[0] + pt[0] * h) * 16)), int(round((origin[1] - pt[1] * h) * 16)))

    sw = p["shoulder_width"]
    sh_r, sh_l = np.array([-sw, _SHOULDER_Y]), np.array([sw, _SHOULDER_Y])  # person's right = image left
    arms = [
        (upper(sh), *(upper(j) for j in _arm_joints(sh, side, arm)), arm)
        for sh, side, arm in ((sh_r, -1.0, right), (sh_l, 1.0, left))
    ]
    pelvis, neck, head = upper(np.zeros(2)), upper(np.array([0.0, _NECK_Y])), upper(np.array([0.0, _HEAD_Y]))
    legs = []
    for key, side in (("right_leg", -1.0), ("left_leg", 1.0)):
        hip, knee, foot = (np.array([side * x, y]) for x, y in _LEG)
        d = parts.get(key)
        if d is not None:
            knee, foot = knee + d[:, 0:2], foot + d[:, 2:4]
        legs.append((lower(hip), lower(knee), lower(foot)))
    shirt, pants, skin = (_unpack(p[k]) for k in ("shirt_rgb", "pants_rgb", "skin_rgb"))
    th = max(1, int(round(p["limb_thickness"] * _SS)))
    th_torso = max(2, int(round(p["limb_thickness"] * _SS * 1.9)))
    line = lambda img, a, b, c, t: cv2.line(img, px(a), px(b), c, t, cv2.LINE_AA, 4)  # noqa: E731
    circle = lambda img, a, r, c: cv2.circle(img, px(a), int(round(r * h * 16)), c, -1, cv2.LINE_AA, 4)  # noqa: E731

    frames = np.empty((T, size, size, 3), np.uint8)
    for t in range(T):
        img = bg.copy()
        for hip, knee, foot in legs:
            line(img, hip[t], knee[t], pants, th)
            line(img, knee[t], foot[t], pants, th)
        line(img, pelvis[t], neck[t], shirt, th_torso)
        line(img, arms[0][0][t], arms[1][0][t], shirt, th)
        circle(img, head[t], _HEAD_R, skin)
        for sh, elbow, wrist, hand, arm in arms:
            line(img, sh[t], elbow[t], shirt, th)
            line(img, elbow[t], wrist[t], skin, th)
            near = 1.0 + 0.8 * (1.0 - min(arm[t, 2], arm[t, 3]))  # hands near the camera look bigger
            circle(img, hand[t], _HAND_R * near, skin)
        frames[t] = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    if look != "synthetic":
        frames = _degrade(frames, p, rng)
    return frames


def _body_transforms(parts: dict, T: int):
    """(upper, lower): body-space points (``[2]`` or ``[T, 2]``) -> ``[T, 2]`` per frame, for the upper
    body (lean about the pelvis, torso scale, width, offset) and the legs (width, offset). Without body
    parts both are the identity (the gestures), so their pixels do not depend on this code's arithmetic."""
    if not any(k in parts for k in ("lean", "torso", "width", "offset")):
        return (lambda pt: np.broadcast_to(pt, (T, 2)),) * 2
    lean = np.radians(parts.get("lean", np.zeros(T)))
    torso, width = parts.get("torso", np.ones(T)), parts.get("width", np.ones(T))
    offset = parts.get("offset", np.zeros((T, 2)))
    c, s = np.cos(lean), np.sin(lean)

    def upper(pt):
        pt = np.broadcast_to(pt, (T, 2))
        x, y = pt[:, 0] * width, pt[:, 1] * torso
        return np.stack([c * x - s * y, s * x + c * y], 1) + offset

    def lower(pt):
        pt = np.broadcast_to(pt, (T, 2))
        return np.stack([pt[:, 0] * width, pt[:, 1]], 1) + offset

    return upper, lower


def _degrade(frames: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Camera shake, blur, flicker + colour cast and sensor noise (the real and neutral looks)."""
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
