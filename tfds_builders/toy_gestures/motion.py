"""Per-class arm trajectories of the toy RoCoG-v2 gestures (front view, 2-D).

Each arm pose is four numbers, ``ARM_FIELDS``:

* ``theta``   shoulder angle in degrees: 0 = hanging down, 90 = horizontal outward, 180 = straight
  up; above 180 the arm crosses over the head towards the other side.
* ``flex``    elbow flex in degrees: the forearm direction is ``theta + flex`` in the same angle
  convention (positive bends the forearm up/over, negative down/towards the body).
* ``fs_upper``, ``fs_fore``  foreshortening of the upper arm / forearm (1 = in the image plane,
  ~0.35 = pointing at the camera).

``arm_tracks`` turns the per-video timing parameters into a ``[T, 4]`` track for each arm. The
motions follow working descriptions of the Army arm-and-hand signals (as in the field manual); they
are a stylised toy, not a reproduction of the field manual.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gesture_jax.data.classes import ROCOG_V2_CLASSES

CLASS_NAMES = ROCOG_V2_CLASSES
NUM_CLASSES = len(CLASS_NAMES)
ARM_FIELDS = ("theta", "flex", "fs_upper", "fs_fore")


@dataclasses.dataclass(frozen=True)
class ClassMotion:
    reps: tuple[int, int]  # inclusive range of repetitions (synthetic RoCoG-v2 playlists)
    period: float  # frames per repetition at speed 1.0
    two_armed: bool
    phase: tuple[float, float]  # range of the start phase inside a repetition


MOTIONS = (
    ClassMotion(reps=(1, 1), period=20.0, two_armed=False, phase=(0.0, 0.0)),  # Advance
    ClassMotion(reps=(1, 3), period=11.0, two_armed=False, phase=(0.0, 0.15)),  # Attention
    ClassMotion(reps=(2, 4), period=9.0, two_armed=False, phase=(0.0, 1.0)),  # Rally
    ClassMotion(reps=(2, 4), period=9.0, two_armed=True, phase=(0.0, 0.15)),  # MoveForward
    ClassMotion(reps=(1, 1), period=18.0, two_armed=False, phase=(0.0, 0.0)),  # Halt
    ClassMotion(reps=(2, 4), period=9.0, two_armed=False, phase=(0.0, 0.15)),  # FollowMe
    ClassMotion(reps=(2, 4), period=8.0, two_armed=True, phase=(0.0, 0.15)),  # MoveInReverse
)

_POINT = (95.0, 0.0, 0.45, 0.45)  # arm pointing (almost) at the camera at shoulder height


def keyframes(t: np.ndarray, times, poses) -> np.ndarray:
    """Smooth-step interpolation between key poses; ``t`` in [0, 1] -> ``[len(t), 4]``."""
    times = np.asarray(times, np.float64)
    poses = np.asarray(poses, np.float64)
    i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    s = np.clip((t - times[i]) / (times[i + 1] - times[i]), 0.0, 1.0)
    s = s * s * (3.0 - 2.0 * s)
    return poses[i] + (poses[i + 1] - poses[i]) * s[:, None]


def cycle(t: np.ndarray) -> np.ndarray:
    """0 -> 1 -> 0 over one repetition (raised cosine)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * t)


def gesture_pose(label: int, t: np.ndarray, amp: float = 1.0) -> np.ndarray:
    """Pose of the signalling arm at fraction ``t`` in [0, 1] of one repetition -> ``[len(t), 4]``.

    ``amp`` scales the size of the motion (per-video variation).
    """
    name = CLASS_NAMES[label]
    one = np.ones_like(t)
    if name == "Advance":  # down/rear -> up the side -> overhead -> forward to horizontal, hold
        return keyframes(
            t,
            (0.0, 0.2, 0.42, 0.56, 0.68, 1.0),
            (
                (18, 0, 0.7, 0.7),
                (100, 0, 0.75, 0.75),
                (180, 0, 1, 1),
                (160, 0, 0.75, 0.75),
                (100, 5, 0.55, 0.55),
                (100, 5, 0.55, 0.55),
            ),
        )
    if name == "Halt":  # raise straight up to full extension and hold
        return keyframes(t, (0.0, 0.3, 1.0), ((12, 5, 1, 1), (180, 0, 1, 1), (180, 0, 1, 1)))
    if name == "Attention":  # sideways, slightly above the shoulder; forearm waved to the head
        c = cycle(t)
        return np.stack([110 * one, 15 + 110 * amp * c, one, one], axis=1)
    if name == "Rally":  # overhead, hand circling: side-to-side sweep with depth change
        s, co = np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)
        return np.stack([180 + 24 * amp * s, 32 * amp * s, 0.95 + 0.05 * co, 0.78 + 0.22 * co], 1)
    if name == "MoveForward":  # upper arms at the camera, forearms bend back to the head and out
        c = cycle(t)
        return np.stack([95 * one, 100 * amp * c, 0.4 * one, 0.35 + 0.65 * c], axis=1)
    if name == "FollowMe":  # point at the viewer, then swing down and in towards the body
        c = cycle(t)
        target = np.array([35.0, -115.0 * amp, 0.95, 0.85])
        return np.asarray(_POINT) + (target - np.asarray(_POINT)) * c[:, None]
    if name == "MoveInReverse":  # hands at the chest, push out towards the camera, back again
        c = cycle(t)
        pulled = np.array([35.0, 175.0, 0.85, 0.7])
        pushed = np.array([88.0, 0.0, 0.35, 0.35])
        pushed[0] = 35.0 + 53.0 * amp
        return pulled + (pushed - pulled) * c[:, None]
    raise ValueError(f"unknown label {label}")


def idle_pose(frames: np.ndarray, sway: float, sway_phase: float) -> np.ndarray:
    """Hanging arm with a slight sway -> ``[len(frames), 4]``."""
    w = 2.0 * np.pi * frames / 23.0 + sway_phase
    return np.stack(
        [9 + sway * np.sin(w), 6 + 0.5 * sway * np.sin(w + 1.0), np.ones_like(w), np.ones_like(w)], 1
    )


def blend_weight(frames: np.ndarray, start: float, end: float, ramp: float) -> np.ndarray:
    """1 inside [start, end], smooth ramps of ``ramp`` frames to 0 outside it."""
    d = np.maximum(start - frames, frames - end)
    w = np.clip(1.0 - d / ramp, 0.0, 1.0)
    return w * w * (3.0 - 2.0 * w)


def arm_tracks(label: int, p: dict, ramp: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Right and left arm tracks ``[T, 4]`` for one video described by the parameter dict ``p``.

    Uses ``num_frames``, ``lead_in``, ``gesture_frames``, ``repetitions``, ``phase``,
    ``amplitude``, ``lead_arm`` (0 = right, 1 = left), ``arm_lag``, ``idle_sway``, ``sway_phase``.
    """
    motion = MOTIONS[label]
    f = np.arange(p["num_frames"], dtype=np.float64)
    start, g, reps = float(p["lead_in"]), float(p["gesture_frames"]), int(p["repetitions"])
    w = blend_weight(f, start, start + g, ramp)[:, None]

    def signal(lag: float) -> np.ndarray:
        u = np.clip((f - start) / g * reps - lag, 0.0, reps)  # time in repetitions
        t = np.where(u >= reps, 1.0, u % 1.0)
        if motion.phase[1] > 0:
            t = (t + p["phase"]) % 1.0
        return gesture_pose(label, t, p["amplitude"])

    idle = [idle_pose(f, p["idle_sway"], p["sway_phase"] + k * 2.1) for k in range(2)]
    lead = int(p["lead_arm"])
    arms = [idle[0], idle[1]]
    arms[lead] = idle[lead] + w * (signal(0.0) - idle[lead])
    if motion.two_armed:
        o = 1 - lead
        arms[o] = idle[o] + w * (signal(p["arm_lag"]) - idle[o])
    return arms[0], arms[1]
