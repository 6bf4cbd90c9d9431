"""Everyday motions of the toy figure: the pre-training corpus, disjoint from the seven gestures.

It plays the role Kinetics plays for the real encoders: motion in general (arm movements at other angles
and rhythms, bends, steps, jumps, turns, reaching, clapping, ...), never one of the RoCoG-v2 signals
(raise one arm and hold, overhead circles, forearm waved to the head, pointing then swinging in, both
hands pushed from the chest, upper arms at the camera bending back).

A motion is timed like a gesture (`ClassMotion`: repetitions, frames per repetition, start phase) and
posed by a function of the time ``t`` in [0, 1] of one repetition and the size ``amp`` that returns some
of: ``lead``/``other`` arm tracks ``[N, 4]`` (`ARM_FIELDS`), ``lean`` [N] degrees towards the lead side,
``torso`` [N] (< 1 bent forward), ``width`` [N] (< 1 turned away), ``offset`` [N, 2] in body heights
(x towards the lead side, y up), ``lead_leg``/``other_leg`` [N, 4] knee and foot displacements (dx
outwards, dy up). Parts a motion leaves out stay at rest. `body_parts` turns them into the renderer's
parts (``render.draw``) for one video, mirrored when the left side leads.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from tfds_builders.toy_gestures.motion import ClassMotion, blend_weight, cycle, idle_pose, keyframes

_REST = (9.0, 6.0, 1.0, 1.0)


def _arm(theta, flex=0.0, fs_upper=1.0, fs_fore=1.0, n: int | None = None) -> np.ndarray:
    cols = [np.asarray(v, np.float64) for v in (theta, flex, fs_upper, fs_fore)]
    n = n if n is not None else max(c.size for c in cols)
    return np.stack([np.broadcast_to(c, (n,)) for c in cols], 1)


def _hold(t, rise=0.3, fall=0.7) -> np.ndarray:
    """0 -> 1 (by `rise`), held, -> 0 (from `fall`): a scalar envelope of one repetition."""
    return keyframes(t, (0.0, rise, fall, 1.0), ((0,) * 4, (1,) * 4, (1,) * 4, (0,) * 4))[:, 0]


def _between(a, b, s) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a + (b - a) * np.asarray(s)[:, None]


def _xy(x, y, n: int | None = None) -> np.ndarray:
    return _arm(x, y, 0.0, 0.0, n=n)[:, :2]


def _leg(knee_dx=0.0, knee_dy=0.0, foot_dx=0.0, foot_dy=0.0, n: int | None = None) -> np.ndarray:
    return _arm(knee_dx, knee_dy, foot_dx, foot_dy, n=n)


def _wave(t, amp):
    return {"lead": _arm(60.0, 75 + 35 * amp * np.sin(2 * np.pi * t), n=len(t))}


def _reach_side(t, amp):
    return {"lead": _arm(12 + 80 * amp * cycle(t), 5.0, n=len(t))}


def _reach_forward(t, amp):
    c = cycle(t) * amp
    return {"lead": _arm(15 + 65 * c, 0.0, 1 - 0.55 * c, 1 - 0.55 * c)}


def _reach_up_diagonal(t, amp):
    return {"lead": _between(_REST, (12 + 128 * amp, 10, 1, 1), _hold(t, 0.3, 0.65))}


def _clap(t, amp):
    arm = _arm(30.0, 150 + 50 * amp * cycle(t), 0.9, 0.8, n=len(t))
    return {"lead": arm, "other": arm}


def _jumping_jack(t, amp):
    c = cycle(t)
    arm, leg = _arm(10 + 155 * amp * c, 0.0, n=len(t)), _leg(0.03 * c, 0.0, 0.07 * c, 0.0, n=len(t))
    return {"lead": arm, "other": arm, "lead_leg": leg, "other_leg": leg}


def _arm_circles(t, amp):
    s, co = np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)
    arm = _arm(90 + 18 * amp * s, 20 * amp * co, n=len(t))
    return {"lead": arm, "other": arm}


def _hands_on_hips(t, amp):
    arm = _between(_REST, (40, -80 * amp, 1, 1), _hold(t))
    return {"lead": arm, "other": arm}


def _scratch_head(t, amp):
    h = _hold(t, 0.25, 0.8)
    arm = _between(_REST, (150, 80, 1, 1), h)
    arm[:, 1] += 12 * amp * h * np.sin(2 * np.pi * 5 * t)
    return {"lead": arm}


def _drink(t, amp):
    return {"lead": _between(_REST, (25, 170, 0.9, 0.75), _hold(t, 0.35, 0.65))}


def _bend_forward(t, amp):
    h = _hold(t, 0.4, 0.6)  # a bow with the hands on the hips
    arm = _between(_REST, (40, -80, 1, 1), h)
    return {"torso": 1 - 0.35 * amp * h, "lead": arm, "other": arm}


def _lean_side(t, amp):
    h = _hold(t, 0.4, 0.6)
    return {"lean": 22 * amp * h, "other": _between(_REST, (35, 0, 1, 1), h)}


def _squat(t, amp):
    c = cycle(t) * amp
    arm, leg = _arm(9 + 75 * c, 0.0, 1 - 0.5 * c, 1 - 0.5 * c), _leg(0.05 * c, 0.06 * c, 0.0, 0.11 * c)
    return {"offset": _xy(0.0, -0.11 * c), "lead": arm, "other": arm} | {
        "lead_leg": leg,
        "other_leg": leg,
    }


def _march(t, amp):
    s = np.sin(2 * np.pi * t)
    up, down = np.maximum(s, 0) * amp, np.maximum(-s, 0) * amp
    return {
        "lead_leg": _leg(0.01 * up, 0.12 * up, 0.0, 0.12 * up),
        "other_leg": _leg(0.01 * down, 0.12 * down, 0.0, 0.12 * down),
        "lead": _arm(9 + 30 * down, 10.0, 1 - 0.3 * down, 1.0),
        "other": _arm(9 + 30 * up, 10.0, 1 - 0.3 * up, 1.0),
    }


def _step_side(t, amp):
    h = _hold(t, 0.4, 0.6)
    return {"offset": _xy(0.08 * amp * h, 0.0), "lead_leg": _leg(0.02 * h, 0, 0.04 * h, 0)}


def _jump(t, amp):
    a = np.maximum(np.sin(2 * np.pi * t), 0) * amp
    arm, leg = _arm(9 + 45 * a, 0.0), _leg(0.0, 0.05 * a, 0.0, 0.07 * a)
    return {"offset": _xy(0.0, 0.08 * a), "lead": arm, "other": arm} | {
        "lead_leg": leg,
        "other_leg": leg,
    }


def _turn(t, amp):
    return {"width": 1 - 0.65 * min(amp, 1.0) * _hold(t, 0.35, 0.65)}


def _punch(t, amp):
    s = np.sin(2 * np.pi * t)
    guard, strike = (30, 140, 1, 0.9), (85, 0, 0.4, 0.4)
    return {
        "lead": _between(guard, strike, np.maximum(s, 0) * min(amp, 1.0)),
        "other": _between(guard, strike, np.maximum(-s, 0) * min(amp, 1.0)),
    }


def _cross_arms(t, amp):
    arm = _between(_REST, (40, 195, 0.9, 0.9), _hold(t))
    return {"lead": arm, "other": arm}


def _stretch_up(t, amp):
    arm = _between(_REST, (172, 0, 1, 1), _hold(t, 0.35, 0.7))
    return {"lead": arm, "other": arm}


def _throw(t, amp):
    poses = (_REST, (150, 70, 1, 1), (60, 0, 0.5, 0.5), (30, 0, 0.8, 0.8), _REST)
    return {"lead": keyframes(t, (0.0, 0.4, 0.55, 0.75, 1.0), poses)}


def _pull_down(t, amp):
    arm = _between((165, 0, 1, 1), (70, 110 * amp, 1, 1), cycle(t))
    return {"lead": arm, "other": arm}


def _touch_toes(t, amp):
    h = _hold(t, 0.4, 0.65)
    arm = _between(_REST, (3, 0, 1, 1), h)
    return {"torso": 1 - 0.55 * h, "offset": _xy(0.0, -0.02 * h), "lead": arm, "other": arm}


def _hip_sway(t, amp):
    s = np.sin(2 * np.pi * t)
    return {"offset": _xy(0.04 * amp * s, 0.0), "lean": -5 * amp * s}


def _swing_arms(t, amp):
    s = np.sin(2 * np.pi * t) * amp
    fwd, back = np.maximum(s, 0), np.maximum(-s, 0)
    return {
        "lead": _arm(12 + 20 * fwd, 0.0, 1 - 0.4 * fwd, 1 - 0.4 * fwd),
        "other": _arm(12 + 20 * back, 0.0, 1 - 0.4 * back, 1 - 0.4 * back),
    }


@dataclasses.dataclass(frozen=True)
class Everyday:
    name: str
    timing: ClassMotion  # two_armed: the other arm trails by the video's arm_lag
    pose: Callable[[np.ndarray, float], dict]


def _m(name, reps, period, pose, phase=(0.0, 0.0), two_armed=False) -> Everyday:
    return Everyday(name, ClassMotion(reps=reps, period=period, two_armed=two_armed, phase=phase), pose)


MOTIONS = (
    _m("WaveHand", (2, 5), 7.0, _wave, phase=(0.0, 1.0)),
    _m("ReachSide", (1, 2), 16.0, _reach_side),
    _m("ReachForward", (1, 2), 14.0, _reach_forward),
    _m("ReachUpDiagonal", (1, 1), 20.0, _reach_up_diagonal),
    _m("Clap", (3, 5), 6.0, _clap, phase=(0.0, 0.2), two_armed=True),
    _m("JumpingJack", (2, 3), 12.0, _jumping_jack, two_armed=True),
    _m("ArmCircles", (2, 4), 8.0, _arm_circles, phase=(0.0, 1.0), two_armed=True),
    _m("HandsOnHips", (1, 1), 20.0, _hands_on_hips, two_armed=True),
    _m("ScratchHead", (1, 1), 24.0, _scratch_head),
    _m("Drink", (1, 2), 16.0, _drink),
    _m("BendForward", (1, 2), 18.0, _bend_forward),
    _m("LeanSide", (1, 2), 18.0, _lean_side),
    _m("Squat", (1, 3), 16.0, _squat),
    _m("March", (2, 3), 12.0, _march),
    _m("StepSide", (1, 2), 18.0, _step_side),
    _m("Jump", (2, 3), 10.0, _jump),
    _m("Turn", (1, 1), 22.0, _turn),
    _m("Punch", (2, 4), 8.0, _punch),
    _m("CrossArms", (1, 1), 20.0, _cross_arms, two_armed=True),
    _m("StretchUp", (1, 1), 22.0, _stretch_up, two_armed=True),
    _m("Throw", (1, 2), 14.0, _throw),
    _m("PullDown", (2, 3), 12.0, _pull_down, two_armed=True),
    _m("TouchToes", (1, 1), 24.0, _touch_toes),
    _m("HipSway", (2, 3), 14.0, _hip_sway, phase=(0.0, 1.0)),
    _m("SwingArms", (2, 3), 14.0, _swing_arms, phase=(0.0, 1.0)),
)
CLASS_NAMES = tuple(m.name for m in MOTIONS)
NUM_CLASSES = len(MOTIONS)
_BODY = {"lean": 0.0, "torso": 1.0, "width": 1.0}  # rest values of the scalar body tracks


def body_parts(label: int, p: dict, ramp: float = 3.0) -> dict[str, np.ndarray]:
    """The renderer's parts (``render.draw``) of one video of motion `label` described by the timing
    parameters ``p`` (``render.sample_timing``): rest outside the motion window, smooth ramps into it."""
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"label must be in [0, {NUM_CLASSES}), got {label}")
    m = MOTIONS[label]
    T = p["num_frames"]
    f = np.arange(T, dtype=np.float64)
    start, g, reps = float(p["lead_in"]), float(p["gesture_frames"]), int(p["repetitions"])
    w = blend_weight(f, start, start + g, ramp)

    def posed(lag: float) -> dict:
        u = np.clip((f - start) / g * reps - lag, 0.0, reps)  # time in repetitions
        t = np.where(u >= reps, 1.0, u % 1.0)
        if m.timing.phase[1] > 0:
            t = (t + p["phase"]) % 1.0
        return m.pose(t, p["amplitude"])

    active = posed(0.0)
    if m.timing.two_armed and "other" in active:
        active["other"] = posed(p["arm_lag"])["other"]
    lead = int(p["lead_arm"])  # 0: the person's right side leads (image left)
    toward_lead = -1.0 if lead == 0 else 1.0  # image x of "towards the lead side"
    idle = [idle_pose(f, p["idle_sway"], p["sway_phase"] + k * 2.1) for k in range(2)]
    parts: dict[str, np.ndarray] = {}
    for key, side in (("lead", lead), ("other", 1 - lead)):
        arm = idle[side] if key not in active else idle[side] + w[:, None] * (active[key] - idle[side])
        parts["right" if side == 0 else "left"] = arm
    for key, rest in _BODY.items():
        value = rest + w * (np.asarray(active.get(key, rest)) - rest)
        # lean: positive in the renderer tilts towards the image's left, i.e. the person's right side
        parts[key] = value * (-toward_lead) if key == "lean" else value
    offset = w[:, None] * np.asarray(active.get("offset", np.zeros((T, 2))))
    parts["offset"] = offset * np.array([toward_lead, 1.0])
    for key, side in (("lead_leg", lead), ("other_leg", 1 - lead)):
        leg = w[:, None] * np.asarray(active.get(key, np.zeros((T, 4))))
        outward = -1.0 if side == 0 else 1.0  # the right leg is on the image's left
        parts["right_leg" if side == 0 else "left_leg"] = leg * np.array([outward, 1.0, outward, 1.0])
    return parts
