"""Toy RoCoG-v2 renderer (tfds_builders.toy_gestures.render) and its TFDS builder (toy_gestures)."""

import itertools
import sys

import numpy as np
import pytest

from gesture_jax.data.frames import decode_frames, encode_frames
from tfds_builders.toy_gestures import motion as toy_motion
from tfds_builders.toy_gestures import render as toy_render
from tfds_builders.toy_gestures.render import CLASS_NAMES, DOMAINS, example_rng, render_video

N = len(CLASS_NAMES)


def _render(label, domain, seed=0, split="train", index=None, size=64):
    index = label if index is None else index
    return render_video(label, domain, example_rng(seed, domain, split, index), size=size)


# ----------------------------------------------------------------------------- renderer


def test_class_names_follow_rocog_v2_order():
    assert CLASS_NAMES == (
        "Advance",
        "Attention",
        "Rally",
        "MoveForward",
        "Halt",
        "FollowMe",
        "MoveInReverse",
    )
    assert DOMAINS == ("synthetic", "real")


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("label", range(N))
def test_every_class_renders(label, domain):
    video, p = _render(label, domain)
    assert video.dtype == np.uint8 and video.ndim == 4
    assert video.shape[1:] == (64, 64, 3) and video.shape[0] == p["num_frames"]
    assert toy_render.MIN_FRAMES <= p["num_frames"] <= toy_render.MAX_FRAMES
    assert p["lead_in"] + p["gesture_frames"] + p["tail"] == p["num_frames"]
    lo, hi = toy_motion.MOTIONS[label].reps
    assert lo <= p["repetitions"] <= hi
    assert set(p) == set(toy_render.PARAM_DTYPES)
    for k, t in toy_render.PARAM_DTYPES.items():
        assert isinstance(p[k], int if t == "int" else float), k
    # Motion actually moves: some frame differs clearly from the first one. (In the real domain
    # every frame differs anyway, through noise and shake; the figure there has less contrast.)
    diff = np.abs(video.astype(np.int16) - video[:1]).max(axis=-1)
    if domain == "synthetic":
        assert (diff > 60).sum(axis=(1, 2)).max() >= 15
    else:
        assert diff.max() > 50


def test_size_argument():
    video, _ = _render(3, "real", size=96)
    assert video.shape[1:] == (96, 96, 3)


@pytest.mark.parametrize("domain", DOMAINS)
def test_deterministic_per_seed(domain):
    a, pa = render_video(2, domain, np.random.default_rng(123))
    b, pb = render_video(2, domain, np.random.default_rng(123))
    np.testing.assert_array_equal(a, b)
    assert pa == pb
    c, pc = render_video(2, domain, np.random.default_rng(124))
    assert pc != pa
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_example_rng_is_keyed_by_all_fields():
    keys = [
        (0, "synthetic", "train", 5),
        (1, "synthetic", "train", 5),
        (0, "real", "train", 5),
        (0, "synthetic", "val", 5),
        (0, "synthetic", "train", 6),
    ]
    draws = [example_rng(*k).random() for k in keys]
    assert len(set(draws)) == len(draws)
    assert example_rng(*keys[0]).random() == draws[0]


def test_domains_look_different():
    def stats(domain):
        corner_std, temporal = [], []
        for i in range(2 * N):
            video, _ = _render(i % N, domain, index=i)
            patch = video[:, :6, :6].astype(np.float32)  # top-left corner: background
            corner_std.append(patch[0].reshape(-1, 3).std(0).mean())
            temporal.append(np.abs(np.diff(patch, axis=0)).mean())
        return np.mean(corner_std), np.mean(temporal)

    syn_std, syn_t = stats("synthetic")
    real_std, real_t = stats("real")
    assert syn_std < 0.5 and syn_t < 0.5  # flat, static background
    assert real_std > 2.0 and real_t > 1.0  # textured, noisy, shaking


def test_classes_differ():
    # Same timing parameters for every class: the arm tracks must be clearly different.
    p = toy_render.sample_params(2, "synthetic", np.random.default_rng(0))
    tracks = {}
    for label in range(N):
        q = dict(p, repetitions=toy_motion.MOTIONS[label].reps[0])
        right, left = toy_motion.arm_tracks(label, q)
        tracks[label] = np.concatenate([right, left], 1)
    for a, b in itertools.combinations(range(N), 2):
        scale = np.array([1, 1, 100, 100] * 2)  # degrees vs foreshortening
        assert np.abs((tracks[a] - tracks[b]) * scale).mean() > 5.0, (CLASS_NAMES[a], CLASS_NAMES[b])
    # And in pixels: one seed, every class -> pairwise different videos.
    vids = [_render(label, "synthetic", index=0)[0] for label in range(N)]
    for a, b in itertools.combinations(range(N), 2):
        assert vids[a].shape != vids[b].shape or not np.array_equal(vids[a], vids[b])


def test_one_armed_classes_keep_other_arm_idle():
    p = toy_render.sample_params(0, "synthetic", np.random.default_rng(3))
    for label, m in enumerate(toy_motion.MOTIONS):
        arms = toy_motion.arm_tracks(label, dict(p, lead_arm=0))
        other_theta = arms[1][:, 0]
        if m.two_armed:
            assert other_theta.max() > 60
        else:
            assert other_theta.max() < 20


def test_frames_roundtrip():
    video, _ = _render(4, "synthetic")
    jpegs = encode_frames(video, quality=90)
    assert all(isinstance(j, bytes) and j[:2] == b"\xff\xd8" for j in jpegs)
    dec = decode_frames(jpegs)
    assert dec.shape == video.shape and dec.dtype == np.uint8
    assert np.abs(dec.astype(np.int16) - video).mean() < 5.0  # RGB order preserved
    sub = decode_frames(jpegs, [3, 0, 3])
    np.testing.assert_array_equal(sub, dec[[3, 0, 3]])


def test_contact_sheet_cli(tmp_path):
    import cv2

    from tfds_builders import toy_sheets

    toy_sheets.main(["--out", str(tmp_path), "--cols", "4"])
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "toy_gestures_real.png",
        "toy_gestures_synthetic.png",
        "toy_motions_neutral.png",
    ]
    sheet = cv2.imread(str(tmp_path / "toy_motions_neutral.png"))
    assert sheet.shape == (25 * 66, 120 + 4 * 66, 3)  # a row per motion, 4 frames of 64 px + borders


# ----------------------------------------------------------------------------- TFDS builder


def _build(data_dir, *configs):
    import tensorflow_datasets as tfds

    import tfds_builders.toy_gestures  # noqa: F401  (importing a builder registers it)

    for cfg in configs:
        # Plain call: the builder defaults to array_record on its own.
        tfds.builder(f"toy_gestures/{cfg}", data_dir=data_dir).download_and_prepare()
    return data_dir


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("tfds"), "synthetic_small", "real_small")


def _source(data_dir, config, split=None):
    import tensorflow_datasets as tfds

    import tfds_builders.toy_gestures  # noqa: F401

    return tfds.data_source(f"toy_gestures/{config}", split=split, data_dir=data_dir)


def _records(ds):
    return [ds[i] for i in range(len(ds))]


@pytest.mark.parametrize(
    "config, splits",
    [
        ("synthetic_small", {"train": 6, "val": 2}),
        ("real_small", {"train": 3, "test": 3}),
    ],
)
def test_builder_splits_and_records(data_dir, config, splits):
    sources = _source(data_dir, config)
    assert set(sources) == set(splits)
    domain = config.split("_")[0]
    files = list((data_dir / "toy_gestures" / config / "1.1.0").glob("*.array_record-*"))
    assert len(files) == len(splits)
    for split, per_class in splits.items():
        ds = sources[split]
        assert len(ds) == per_class * N
        recs = _records(ds)
        labels = np.array([r["label"] for r in recs])
        assert labels.min() >= 0 and labels.max() < N
        np.testing.assert_array_equal(np.bincount(labels, minlength=N), per_class)
        ids = [r["id"].decode() for r in recs]
        assert len(set(ids)) == len(ids) and all(i.startswith(f"{domain}/{split}/") for i in ids)
        for r in recs[:N]:
            assert r["domain"].decode() == domain
            frames = decode_frames(r["frames"])
            assert (
                frames.shape == (r["num_frames"], 64, 64, 3) == (len(r["frames"]), r["height"], r["width"], 3)
            )
            assert r["params"]["num_frames"] == r["num_frames"]
    assert "tensorflow" not in sys.modules


@pytest.mark.parametrize("config, tol", [("synthetic_small", 5.0), ("real_small", 8.0)])
def test_builder_frames_match_renderer(data_dir, config, tol):
    ds = _source(data_dir, config, split="train")
    domain = config.split("_")[0]
    for i in (0, 4, len(ds) - 1):
        r = ds[i]
        _, split, index = r["id"].decode().split("/")
        video, p = render_video(r["label"], domain, example_rng(0, domain, split, int(index)))
        assert int(index) == i and r["label"] == i % N
        frames = decode_frames(r["frames"])
        assert frames.shape == video.shape
        assert np.abs(frames.astype(np.int16) - video).mean() < tol
        np.testing.assert_array_equal(decode_frames(r["frames"], [1, 5]), frames[[1, 5]])
        for k, v in p.items():
            assert r["params"][k] == pytest.approx(v, rel=1e-6), k


def test_builder_is_deterministic(data_dir, tmp_path):
    other = _build(tmp_path, "synthetic_small")
    for split in ("train", "val"):
        a = _records(_source(data_dir, "synthetic_small", split))
        b = _records(_source(other, "synthetic_small", split))
        assert len(a) == len(b)
        for ra, rb in zip(a, b):
            assert ra["id"] == rb["id"] and ra["label"] == rb["label"]
            assert ra["params"] == rb["params"]
            assert list(ra["frames"]) == list(rb["frames"])
    assert "tensorflow" not in sys.modules


def test_split_metadata_by_exact_name(toy_data_dir):
    """Breakdown fields are read by their exact (nested) names; a missing one names what the records hold."""
    from gesture_jax.data import datasets

    split = datasets.open_split("toy_gestures/real_small:test", toy_data_dir)
    everything = datasets.split_metadata(split, ["params.lead_arm", "id"])
    some = datasets.split_metadata(split, ["params.lead_arm", "id"], indices=[4, 0])
    assert len(everything["id"]) == len(split) and list(some["id"]) == [
        everything["id"][4],
        everything["id"][0],
    ]
    assert list(some["params.lead_arm"]) == [
        everything["params.lead_arm"][4],
        everything["params.lead_arm"][0],
    ]
    with pytest.raises(
        KeyError, match=r"real_small:test: records have no field 'params.lead_leg'.*params.lead_arm"
    ):
        datasets.split_metadata(split, ["params.lead_leg"])
