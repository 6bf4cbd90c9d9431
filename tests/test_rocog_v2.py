"""RoCoG-v2 builder (tfds_builders/rocog_v2) on a tiny fake release written here with PyAV/libx264."""

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
import tensorflow_datasets as tfds
from absl import app

import tfds_builders  # noqa: F401  (registers rocog_v2)
from gesture_jax.data import build as build_cli
from gesture_jax.data import datasets
from gesture_jax.data.frames import decode_frames
from tfds_builders.rocog_v2 import companion, names, sources, video
from tfds_builders.rocog_v2.rocog_v2_dataset_builder import BadVideoError

ROOT = Path(__file__).resolve().parents[1]
CLI_SHORT_SIDE = 32  # real_ground goes through the command line with --frame_short_side 32

# Annotation lists of the fake release, deliberately not sorted; labels are class_dict indices.
LISTS = {
    "real_ground": {
        "train": [
            ("real/ground/Rally/S05_10m_ground_2_label3_start2500.mp4", 2),
            ("real/ground/Advance/S01_10m_ground_label1_start100.mp4", 0),
            ("real/ground/MoveInReverse/S02_10m_ground_label7_start40.mp4", 6),
        ],
        "test": [
            ("real/ground/Halt/S04b_10m_ground_label5_start812.mp4", 4),
            ("real/ground/Attention/S00_10m_ground_label2_start7.mp4", 1),
        ],
        "train_tsonly": [
            ("real/ground/Rally/S05_10m_ground_2_label3_start2500.mp4", 2),
            ("real/ground/Advance/S01_10m_ground_label1_start100.mp4", 0),
        ],
        "val_tsonly": [("real/ground/MoveInReverse/S02_10m_ground_label7_start40.mp4", 6)],
    },
    "real_air": {
        "train": [
            ("real/air/MoveForward/S05_15m_hover_label4_start300.mp4", 3),
            ("real/air/FollowMe/S10_15m_hover_label6_start12.mp4", 5),
        ],
        "test": [
            ("real/air/Rally/S00_30m_hover_label3_start3962.mp4", 2),
            ("real/air/Halt/S06_15m_hover_label5_start55.mp4", 4),
            ("real/air/Advance/S09_15m_hover_label1_start77.mp4", 0),
        ],
        "train_tsonly": [("real/air/MoveForward/S05_15m_hover_label4_start300.mp4", 3)],
        "val_tsonly": [("real/air/FollowMe/S10_15m_hover_label6_start12.mp4", 5)],
    },
    "syn_ground": {
        "train": [
            ("syn/ground/Halt/Scene27_612_S01_Halt_R03_02_20_8_2022_16_6_50.mp4", 4),
            ("syn/ground/Advance/Scene13_0_Advance_30_1_2022_17_3_43.mp4", 0),
        ],
        "val": [("syn/ground/Halt/Scene52_386_Halt_4_2_2022_15_1_38.mp4", 4)],
    },
    "syn_air": {
        "train": [
            ("syn/air/FollowMe/Scene20_5_FollowMe_2_9_2022_11_4_5.mp4", 5),
            ("syn/air/Rally/Scene37_650_S02_Rally_R04_01_2_9_2022_11_9_5.mp4", 2),
        ],
        "val": [("syn/air/MoveForward/Scene15_700_S02_MoveForward_R01_01_3_9_2022_9_0_1.mp4", 3)],
    },
}
# syn_orbital has no lists: its class folders are scanned (masks left out).
ORBITAL = [
    ("syn/orbital/Advance/Scene3_1_Advance_1_1_2023_1_1_1.mp4", 0),
    ("syn/orbital/Rally/Scene0_640_S01_Rally_R02_01_1_1_2023_1_1_2.mp4", 2),
]
ORBITAL_MASK = "syn/orbital/Rally/Scene0_640_S01_Rally_R02_01_1_1_2023_1_1_2_mask.mp4"
XML_FIELDS = {  # companion XMLs: (start, end, repetitions); the other synthetic videos have none
    "syn/ground/Halt/Scene27_612_S01_Halt_R03_02_20_8_2022_16_6_50.mp4": (1.25, 4.5, 3),
    "syn/ground/Advance/Scene13_0_Advance_30_1_2022_17_3_43.mp4": (0.75, 5.0, 1),
    "syn/air/FollowMe/Scene20_5_FollowMe_2_9_2022_11_4_5.mp4": (0.5, 5.75, 2),
}
CONFIGS = {"real_ground", "real_air", "syn_ground", "syn_air", "syn_orbital"}


def _write_video(path: Path, num_frames: int, height: int, width: int, fps: int, faststart=False) -> None:
    """Frame i is a flat grey of 20 * i + 10 with a bright bar, so frame order can be checked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(num_frames):
            image = np.full((height, width, 3), 20 * i + 10, np.uint8)
            image[: height // 4, : width // 4] = 250
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _xml(start: float, end: float, reps: int) -> str:
    return (
        '<?xml version="1.0" encoding="utf-16"?>\n<GestureVideo><gender>Female</gender>'
        f"<blendWeight>0.3</blendWeight><gestureStartTime>{start}</gestureStartTime>"
        f"<gestureEndTime>{end}</gestureEndTime><numberOfRepetitions>{reps}</numberOfRepetitions></GestureVideo>"
    )


def _shape(path: str) -> tuple[int, int, int, int]:
    """(frames, height, width, fps) of a fake video: real ones landscape, synthetic ones portrait."""
    frames = 8 + len(path) % 5
    return (frames, 48, 64, 25) if path.startswith("real/") else (frames, 64, 48, 30)


@pytest.fixture(scope="session")
def tree(tmp_path_factory) -> Path:
    """A RoCoG-v2 checkout with every part extracted in it (written once)."""
    root = tmp_path_factory.mktemp("rocog_v2")
    (root / "class_dict.json").write_text(json.dumps({str(i): n for i, n in enumerate(names.CLASS_NAMES)}))
    (root / "annotations").mkdir()
    videos = set(ORBITAL)
    for part, splits in LISTS.items():
        for split, lines in splits.items():
            text = "".join(f"{p} {label}\n" for p, label in lines)
            (root / "annotations" / f"{part}_{split}.txt").write_text(text)
            videos.update(lines)
    for rel, _ in sorted(videos):
        _write_video(root / rel, *_shape(rel))
    for rel, fields in XML_FIELDS.items():
        (root / rel).with_suffix(".xml").write_text(_xml(*fields))
    (root / ORBITAL_MASK).write_bytes(b"not a video: a mask must never be read")
    return root


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, "-m", "gesture_jax.data.build", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def built(tree, tmp_path_factory) -> Path:
    """Every config built from `tree`: real_ground through the command line, the rest through build()."""
    data_dir = tmp_path_factory.mktemp("tfds")
    args = ["rocog_v2/real_ground", "--data_dir", str(data_dir), "--manual_dir", str(tree)]
    result = _cli(*args, "--frame_short_side", str(CLI_SHORT_SIDE))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rocog_v2/real_ground: test 2, train 3, train_tsonly 2, val_tsonly 1" in result.stdout
    for config in sorted(CONFIGS - {"real_ground"}):
        datasets.build(f"rocog_v2/{config}", str(data_dir), manual_dir=str(tree))
    return data_dir


def _records(data_dir, config: str) -> dict[str, list[dict]]:
    sources = tfds.data_source(f"rocog_v2/{config}", data_dir=data_dir)
    return {split: [ds[i] for i in range(len(ds))] for split, ds in sources.items()}


def _copy(tree: Path, dst: Path, part: str) -> Path:
    """A manual_dir holding one part of `tree`, to damage without touching the shared tree."""
    shutil.copytree(tree / "annotations", dst / "annotations")
    shutil.copy(tree / "class_dict.json", dst)
    shutil.copytree(tree / part.replace("_", "/"), dst / part.replace("_", "/"))
    return dst


def _build(manual_dir: Path, data_dir: Path, config: str = "real_air", **kwargs):
    return datasets.build(
        f"rocog_v2/{config}", str(data_dir), manual_dir=str(manual_dir), builder_kwargs=kwargs
    )


# ----------------------------------------------------------------------------- every config


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_splits_labels_paths_and_frames(built, config):
    records = _records(built, config)
    expected = LISTS[config] if config in LISTS else {"full": ORBITAL}
    assert set(records) == set(expected)
    short = CLI_SHORT_SIDE if config == "real_ground" else 224
    for split, lines in expected.items():
        recs = records[split]
        assert [(r["path"].decode(), int(r["label"])) for r in recs] == lines  # list order
        for r in recs:
            frames_n, height, width, fps = _shape(r["path"].decode())
            frames = decode_frames(r["frames"])
            assert min(frames.shape[1:3]) == short
            assert frames.shape == (frames_n, r["height"], r["width"], 3) and r["num_frames"] == frames_n
            assert (r["orig_height"], r["orig_width"], r["fps"]) == (height, width, fps)
            grey = frames[:, -1, -1].mean(axis=-1)  # away from the bright bar
            np.testing.assert_allclose(grey, 20 * np.arange(frames_n) + 10, atol=6)
    b = tfds.builder(f"rocog_v2/{config}", data_dir=built)
    assert b.info.features["label"].names == list(names.CLASS_NAMES)
    assert b.info.metadata["frame_short_side"] == short and b.info.metadata["skipped_videos"] == {
        s: [] for s in expected
    }
    assert "tensorflow" not in sys.modules


def _by_path(records: dict[str, list[dict]]) -> dict[str, dict]:
    return {r["path"].decode(): r for recs in records.values() for r in recs}


def _fields(record: dict, keys: str) -> tuple:
    values = (record[k] for k in keys.split())
    return tuple(v.decode() if isinstance(v, bytes) else float(v) for v in values)


def test_real_metadata(built):
    recs = _by_path(_records(built, "real_ground")) | _by_path(_records(built, "real_air"))
    keys = "subject distance_m view take start_frame"
    halt, rally = (
        recs["real/ground/Halt/S04b_10m_ground_label5_start812.mp4"],
        recs[LISTS["real_air"]["test"][0][0]],
    )
    assert _fields(halt, keys) == ("S04b", 10, "ground", 1, 812)  # subject with the 'b' suffix
    assert _fields(rally, keys) == ("S00", 30, "hover", 1, 3962)
    assert _fields(recs["real/ground/Rally/S05_10m_ground_2_label3_start2500.mp4"], keys)[3:] == (2, 2500)
    assert "scene" not in next(iter(recs.values()))  # one feature table per domain


def test_synthetic_metadata(built):
    recs = _by_path(_records(built, "syn_ground")) | _by_path(_records(built, "syn_air"))
    recs |= _by_path(_records(built, "syn_orbital"))
    by_scene = {path.rsplit("/", 1)[-1].split("_")[0]: rec for path, rec in recs.items()}
    keys = "scene video_index camera_yaw sun avatar terrain motion performer repetitions take"
    expected = {  # yaw, sun, avatar, terrain from the scene formulas (rocog_v2.md §6)
        "Scene27": (27, 612, 210, 0, "FemaleCivilian", "Grassy", "mocap", "S01", 3, 2),  # ground
        "Scene13": (13, 0, 90, 1, "MaleCivilian", "Grassy", "animated", "", 1, -1),  # reps from the XML
        "Scene52": (52, 386, 270, 0, "MaleCivilian", "Desert", "animated", "", -1, -1),  # no XML
        "Scene20": (20, 5, 150, 1, "FemaleCivilian", "Grassy", "animated", "", 2, -1),  # air
        "Scene37": (37, 650, 90, 0, "FemaleCivilian", "Desert", "mocap", "S02", 4, 1),
        "Scene0": (0, 640, -1, -1, "", "", "mocap", "S01", 2, 1),  # orbital: no formula
    }
    for scene, fields in expected.items():
        assert _fields(by_scene[scene], keys) == fields, scene
    for path, rec in recs.items():
        start, end, _ = XML_FIELDS.get(path, (-1.0, -1.0, None))
        assert _fields(rec, "gesture_start_s gesture_end_s") == (start, end), path
    assert "subject" not in next(iter(recs.values()))


def test_zip_manual_dir_builds_the_same_records(tree, built, tmp_path):
    """real_ground.zip holds real/ground/...; syn_air.zip puts its class folders under syn_air/."""
    manual = tmp_path / "manual"
    shutil.copytree(tree / "annotations", manual / "annotations")
    shutil.copy(tree / "class_dict.json", manual)
    zips = {"real_ground": ("real/ground", "real/ground"), "syn_air": ("syn/air", "syn_air")}
    for part, (folder, inside) in zips.items():
        with zipfile.ZipFile(manual / f"{part}.zip", "w") as z:
            for file in sorted((tree / folder).rglob("*")):
                z.write(file, f"{inside}/{file.relative_to(tree / folder)}")
    data_dir = tmp_path / "tfds"
    _build(manual, data_dir, "real_ground", frame_short_side=CLI_SHORT_SIDE)
    _build(manual, data_dir, "syn_air")
    for config in zips:
        a, b = _records(built, config), _records(data_dir, config)
        assert a.keys() == b.keys()
        for split in a:
            assert len(a[split]) == len(b[split])
            for ra, rb in zip(a[split], b[split]):
                assert ra.keys() == rb.keys()
                for key in ra:
                    if key == "frames":
                        assert list(ra[key]) == list(rb[key])
                    else:
                        assert ra[key] == rb[key], key


def test_download_urls_and_unzip(tree, tmp_path):
    """The download path with a stand-in download manager (tests have no network)."""
    with zipfile.ZipFile(tmp_path / "real_air.zip", "w") as z:
        for file in sorted((tree / "real/air").rglob("*.mp4")):
            z.write(file, str(file.relative_to(tree)))
    urls = []

    class FakeDownloads:
        def download(self, url_or_urls):
            urls.append(url_or_urls)
            if isinstance(url_or_urls, str):
                return tmp_path / "real_air.zip"
            return {k: tree / url.split("/4f7f7a5/")[1] for k, url in url_or_urls.items()}

    part = sources.Part("real", "air")
    src = sources.from_download(FakeDownloads(), part, ["train"], tmp_path / "extracted")
    repo = "https://raw.githubusercontent.com/reddyav1/RoCoG-v2/4f7f7a5"
    assert urls == [
        {"class_dict.json": f"{repo}/class_dict.json", "train": f"{repo}/annotations/real_air_train.txt"},
        "https://www.cis.jhu.edu/~rocog/data/real_air.zip",
    ]
    assert src.lists == {"train": tree / "annotations/real_air_train.txt"}
    entries = {"train": names.parse_list(src.lists["train"].read_text(), "list", part.prefix)}
    assert [f.name for f in sources.resolve(entries, part, src.view_dirs)["train"]] == [
        p.rsplit("/", 1)[1] for p, _ in LISTS["real_air"]["train"]
    ]


def test_built_frame_short_side_is_checked(built):
    with pytest.raises(ValueError, match="built with frame_short_side=32, not 64"):
        tfds.builder("rocog_v2/real_ground", data_dir=built, frame_short_side=64)


# ----------------------------------------------------------------------------- bad data


def _damage(manual: Path) -> tuple[str, str]:
    """Garbage bytes for one test video; another cut after 6 of its 12 frames, its index intact."""
    garbage, truncated = LISTS["real_air"]["test"][0][0], LISTS["real_air"]["test"][1][0]
    (manual / garbage).write_bytes(os.urandom(2000))
    _write_video(manual / truncated, 12, 48, 64, 25, faststart=True)  # index before the frames
    with av.open(str(manual / truncated)) as container:
        cut = [packet.pos for packet in container.demux(container.streams.video[0]) if packet.size][6]
    (manual / truncated).write_bytes((manual / truncated).read_bytes()[:cut])
    return garbage, truncated


def test_bad_videos_stop_the_build_or_are_skipped(tree, tmp_path, caplog):
    manual = _copy(tree, tmp_path / "manual", "real_air")
    garbage, truncated = _damage(manual)
    with pytest.raises(BadVideoError, match=f"{re.escape(str(manual / garbage))}.*skip_bad_videos"):
        _build(manual, tmp_path / "strict")
    with caplog.at_level(logging.WARNING):
        b = _build(manual, tmp_path / "lenient", skip_bad_videos=True)
    assert "real_air test: skipped 2 bad videos of 3" in caplog.text
    assert "truncated: decoded 6 of the 12 frames" in caplog.text
    test = _records(tmp_path / "lenient", "real_air")["test"]
    assert [r["path"].decode() for r in test] == [LISTS["real_air"]["test"][2][0]]
    skipped = tfds.builder("rocog_v2/real_air", data_dir=tmp_path / "lenient").info.metadata["skipped_videos"]
    assert skipped["test"] == [garbage, truncated] and skipped["train"] == []
    assert b.info.splits["train"].num_examples == 2
    (manual / LISTS["real_air"]["val_tsonly"][0][0]).write_bytes(b"")
    with pytest.raises(BadVideoError, match="every video of real_air val_tsonly is bad"):
        _build(manual, tmp_path / "emptied", skip_bad_videos=True)


def test_unreadable_files_are_reported_not_raised(tree, tmp_path):
    cut = tmp_path / "cut.mp4"  # its index is at the end, cut off with the tail
    cut.write_bytes((tree / LISTS["real_air"]["train"][0][0]).read_bytes()[:-200])
    for path, reason in [(cut, "Error"), (tmp_path / "none.mp4", "FileNotFoundError")]:
        result = video.load(video.Task(str(path), 32))
        assert result.fields is None and reason in result.error


def test_missing_files_are_all_listed(tree, tmp_path):
    manual = _copy(tree, tmp_path / "manual", "real_air")
    gone = [LISTS["real_air"]["train"][0][0], LISTS["real_air"]["test"][2][0]]
    for rel in gone:
        (manual / rel).unlink()
    with pytest.raises(FileNotFoundError, match="3 listed videos are missing") as e:
        _build(manual, tmp_path / "tfds")
    assert all(rel in str(e.value) for rel in gone)  # train_tsonly lists the first one again


@pytest.mark.parametrize(
    "layout, message",
    [
        ("missing", "does not exist or is empty; expected in it: annotations/real_air_train.txt"),
        ("empty", "real_air.zip or its extracted folder real/air/<ClassName>/"),
        ("wrong", "lacks annotations/real_air_train.txt, .*class_dict.json.*It holds: notes.txt"),
        ("no_videos", "has neither real_air.zip nor the extracted folder real/air/<ClassName>/"),
    ],
)
def test_wrong_manual_dir_says_what_was_expected(tree, tmp_path, layout, message):
    manual = tmp_path / "manual"
    if layout != "missing":
        manual.mkdir()
    if layout == "wrong":
        (manual / "notes.txt").write_text("not a RoCoG-v2 checkout")
    if layout == "no_videos":
        shutil.copytree(tree / "annotations", manual / "annotations")
        shutil.copy(tree / "class_dict.json", manual)
    with pytest.raises(FileNotFoundError, match=message):
        _build(manual, tmp_path / "tfds")


@pytest.mark.parametrize(
    "line, message",
    [
        ("real/air/Rally/S00_30m_hover_label3_start3962.mp4", "test.txt:2: expected '<path> <label>'"),
        ("real/air/Rally/S00_30m_hover_label3_start3962.mp4 0", "test.txt:2: class folder 'Rally' is not"),
        ("real/air/Rally/S00_30m_hover_label3_start3962.mp4 9", "test.txt:2: label 9 is outside 0..6"),
        ("real/ground/Rally/S00_30m_hover_label3_start3962.mp4 2", "test.txt:2: expected a path 'real/air/"),
        ("real/air/Rally/S00_hover_label3.mp4 2", "S00_hover_label3.mp4: file name does not match"),
    ],
)
def test_bad_list_lines_name_file_and_line(tree, tmp_path, line, message):
    manual = _copy(tree, tmp_path / "manual", "real_air")
    lists = manual / "annotations" / "real_air_test.txt"
    lines = lists.read_text().splitlines()
    lists.write_text("\n".join([lines[0], line, *lines[2:]]) + "\n")
    with pytest.raises(ValueError, match=message):
        _build(manual, tmp_path / "tfds")


# ----------------------------------------------------------------------------- parsing and flags


def test_class_dict_orientations_and_order():
    forward = {str(i): n for i, n in enumerate(names.CLASS_NAMES)}
    inverse = {n: i for i, n in enumerate(names.CLASS_NAMES)}
    for raw in (forward, inverse):
        assert names.parse_class_dict(json.dumps(raw), "c.json") == names.CLASS_NAMES
    alphabetical = {str(i): n for i, n in enumerate(sorted(names.CLASS_NAMES))}
    with pytest.raises(ValueError, match="differs"):
        names.parse_class_dict(json.dumps(alphabetical), "c.json")
    with pytest.raises(ValueError, match="bijection"):
        names.parse_class_dict(json.dumps({**forward, "7": "Extra"}), "c.json")


def test_companion_xml_declared_utf16_but_utf8():
    data = _xml(1.5, 4.0, 2).encode()
    assert companion.parse_companion(data, "x.xml") == {
        "gesture_start_s": 1.5,
        "gesture_end_s": 4.0,
        "repetitions": 2,
    }
    assert companion.parse_companion(data.decode().encode("utf-16"), "x.xml")["gesture_end_s"] == 4.0
    with pytest.raises(ValueError, match="x.xml: unreadable"):
        companion.parse_companion(b"<GestureVideo>", "x.xml")


def test_build_flags_only_reach_builders_that_take_them():
    kwargs = build_cli.builder_kwargs("rocog_v2/real_air", skip_bad_videos=True, frame_short_side=None)
    assert kwargs == {"skip_bad_videos": True}
    with pytest.raises(app.UsageError, match="--skip_bad_videos does not apply to toy_gestures/real_small"):
        build_cli.builder_kwargs("toy_gestures/real_small", skip_bad_videos=True, frame_short_side=None)
    assert (
        build_cli.builder_kwargs("toy_gestures/real_small", skip_bad_videos=False, frame_short_side=None)
        == {}
    )


def test_paper_protocol_runs_on_the_built_splits(built, tmp_path):
    """The paper's ground protocol (synthetic vs real gallery → real test) end to end on the fake release."""
    from gesture_jax import config_lib
    from gesture_jax.modes import knn as knn_mode

    config = config_lib.load_file("configs/demo.py:smoke")
    with config.unlocked():
        config.data.data_dir = str(built)
        config.knn = config_lib.knn()  # the paper's ground protocol
        config.knn.k = 1  # the fake real gallery holds 3 videos
    rows = knn_mode.run(config, str(tmp_path))
    assert [(r["gallery"], r["queries"]) for r in rows] == [
        ("rocog_v2/syn_ground:train", "rocog_v2/real_ground:test"),
        ("rocog_v2/real_ground:train", "rocog_v2/real_ground:test"),
    ]
    assert rows[0]["num_gallery"] == len(LISTS["syn_ground"]["train"])
    assert all(r["num_queries"] == len(LISTS["real_ground"]["test"]) for r in rows)
    ids = np.load(next((tmp_path / "features").glob("*real_ground_test*")) / "features.npz")["ids"]
    assert ids.tolist() == [p for p, _ in LISTS["real_ground"]["test"]]  # features keyed by the list paths
