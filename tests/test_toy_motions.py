"""The toy pre-training corpus (toy_motions): everyday motions, disjoint from the gestures, in a third look;
and the whole-body renderer it needs, which leaves the gestures' pixels as they were."""

import itertools

import numpy as np
import pytest

from gesture_jax.data import datasets
from gesture_jax.data.frames import decode_frames
from tfds_builders.toy_gestures import motion as gesture_motion
from tfds_builders.toy_gestures import render
from tfds_builders.toy_motions import motions
from tfds_builders.toy_motions.toy_motions_dataset_builder import render_motion

N = motions.NUM_CLASSES


def _video(label, look="neutral", index=None, split="train"):
    return render_motion(label, look, render.example_rng(0, look, split, label if index is None else index))


def test_at_least_20_classes_none_of_them_a_gesture():
    assert N >= 20 and len(set(motions.CLASS_NAMES)) == N
    assert not set(motions.CLASS_NAMES) & set(gesture_motion.CLASS_NAMES)
    assert render.LOOKS == ("synthetic", "real", "neutral")


@pytest.mark.parametrize("label", range(N))
def test_every_motion_renders_and_moves(label):
    video, p = _video(label)
    assert video.dtype == np.uint8 and video.shape[1:] == (64, 64, 3) and len(video) == p["num_frames"]
    assert render.MIN_FRAMES <= p["num_frames"] <= render.MAX_FRAMES
    assert set(p) == set(render.PARAM_DTYPES)
    lo, hi = motions.MOTIONS[label].timing.reps
    assert lo <= p["repetitions"] <= hi
    # The figure moves well beyond the neutral look's noise: the largest frame change is big somewhere.
    diff = np.abs(video.astype(np.int16) - video[:1]).max(axis=-1)
    assert (diff > 60).sum(axis=(1, 2)).max() >= 10, motions.CLASS_NAMES[label]


def _parts(label, **overrides):
    p = render.sample_timing(motions.MOTIONS[0].timing, np.random.default_rng(0))
    p.update(num_frames=40, lead_in=4, tail=4, gesture_frames=32, phase=0.0, amplitude=1.0, arm_lag=0.0)
    p.update(repetitions=motions.MOTIONS[label].timing.reps[0], lead_arm=0)
    p.update(overrides)
    return motions.body_parts(label, p)


def _pose_vector(parts):
    scale = {"right": [1, 1, 100, 100], "left": [1, 1, 100, 100], "lean": 1, "torso": 100, "width": 100}
    scale.update(offset=[300, 300], right_leg=[300] * 4, left_leg=[300] * 4)  # body heights -> ~degrees
    return np.concatenate(
        [(np.asarray(parts[k]) * np.asarray(s)).reshape(len(parts["right"]), -1) for k, s in scale.items()], 1
    )


def test_motions_differ_pairwise():
    poses = [_pose_vector(_parts(label)) for label in range(N)]
    for a, b in itertools.combinations(range(N), 2):
        # the pose differs clearly over the video: on average 10 degrees, 0.1 of a scale or foreshortening,
        # or 1/30 of the body height (per frame, all tracks together)
        distance = np.linalg.norm(poses[a] - poses[b], axis=1).mean()
        assert distance > 10.0, (motions.CLASS_NAMES[a], motions.CLASS_NAMES[b], distance)


def test_left_leading_video_mirrors_the_right_leading_one():
    for label in range(N):
        # Without idle sway (the two arms sway with different phases), the left-leading video is the
        # right-leading one mirrored: arms swap sides, lean and x offsets change sign, legs swap.
        right, left = _parts(label, lead_arm=0, idle_sway=0.0), _parts(label, lead_arm=1, idle_sway=0.0)
        np.testing.assert_allclose(right["right"], left["left"], atol=1e-9)
        np.testing.assert_allclose(right["left"], left["right"], atol=1e-9)
        np.testing.assert_allclose(right["lean"], -left["lean"], atol=1e-9)
        np.testing.assert_allclose(right["offset"] * [-1, 1], left["offset"], atol=1e-9)
        np.testing.assert_allclose(right["right_leg"] * [-1, 1, -1, 1], left["left_leg"], atol=1e-9)


def test_body_parts_at_rest_leave_the_gesture_pixels_unchanged():
    """The gestures draw without body parts; the same parts at their rest values give the same pixels."""
    rng = lambda: render.example_rng(0, "real", "train", 3)  # noqa: E731
    video, p = render.render_video(3, "real", rng())
    right, left = gesture_motion.arm_tracks(3, p)
    T = len(right)
    rest = {
        "lean": np.zeros(T),
        "torso": np.ones(T),
        "width": np.ones(T),
        "offset": np.zeros((T, 2)),
        "right_leg": np.zeros((T, 4)),
        "left_leg": np.zeros((T, 4)),
    }
    generator = rng()
    render.sample_params(3, "real", generator)  # the same draws as render_video makes before drawing
    again = render.draw({"right": right, "left": left, **rest}, p, "real", generator)
    np.testing.assert_array_equal(again, video)
    with pytest.raises(ValueError, match="unknown body parts"):
        render.draw({"right": right, "left": left, "tail": right}, p, "real", rng())


def test_the_neutral_look_sits_between_synthetic_and_real():
    def camera(look):
        ps = [render.sample_appearance(look, np.random.default_rng(i)) for i in range(200)]
        return {k: np.mean([p[k] for p in ps]) for k in ("blur_sigma", "noise_std", "shake_std")}

    synthetic, neutral, real = camera("synthetic"), camera("neutral"), camera("real")
    for k in synthetic:
        assert synthetic[k] == 0.0 < neutral[k] < real[k], k

    # backgrounds: flat (synthetic), smooth (neutral), textured with stripes (real): corner-patch detail
    def detail(look):
        values = []
        for i in range(20):
            video, _ = render_motion(i % N, look, render.example_rng(1, look, "train", i))
            values.append(np.abs(np.diff(video[0, :12, :12].astype(np.float32), axis=1)).mean())
        return np.mean(values)

    assert detail("synthetic") < detail("neutral") < detail("real")


def test_examples_are_deterministic_and_independent_of_order():
    a, pa = _video(5, index=30)
    b, pb = _video(5, index=30)
    np.testing.assert_array_equal(a, b)
    assert pa == pb
    c, _ = _video(5, index=55)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_builder_small_config(toy_motions_data_dir):
    split = datasets.open_split("toy_motions/neutral_small:train", toy_motions_data_dir)
    assert len(split) == 4 * N and split.class_names == motions.CLASS_NAMES
    labels = datasets.split_labels(split)
    np.testing.assert_array_equal(labels, np.arange(4 * N) % N)
    record = split.source[N + 2]
    frames = decode_frames(record["frames"])
    assert frames.shape == (int(record["num_frames"]), 64, 64, 3)
    assert record["id"].decode() == f"neutral/train/{N + 2:05d}" and record["domain"].decode() == "neutral"
    video, p = _video(2, index=N + 2)
    assert int(record["num_frames"]) == p["num_frames"]
    assert np.abs(frames.astype(np.int16) - video).mean() < 5.0  # JPEG of the same video
    val = datasets.open_split("toy_motions/neutral_small:val", toy_motions_data_dir)
    assert len(val) == 2 * N
