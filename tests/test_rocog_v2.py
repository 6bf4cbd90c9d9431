"""RoCoG-v2 builder (tfds_builders/rocog_v2) on a tiny fake release made of the repository's real lists and
XMLs (tests/rocog_release.py), with tiny libx264 clips and the real camera mp4."""

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
import rocog_release as release
import tensorflow_datasets as tfds
from absl import app

from gesture_jax.data import build as build_cli
from gesture_jax.data import datasets
from gesture_jax.data.frames import decode_frames
from tfds_builders.rocog_v2 import names, sources, video
from tfds_builders.rocog_v2.rocog_v2_dataset_builder import BadVideoError

ROOT = Path(__file__).resolve().parents[1]
CLI_SHORT_SIDE = 32  # real_ground goes through the command line with --frame_short_side 32

# Real list entries (a sample; the lists below keep them in the real lists' order and splits).
CHOSEN = {
    "real/ground/MoveInReverse/S05_10m_ground_3_label7_start3589.mp4",
    "real/ground/Advance/S05_10m_ground_label1_start5917.mp4",
    "real/ground/MoveInReverse/S02_10m_ground_label7_start4214.mp4",
    "real/ground/FollowMe/S04b_10m_ground_label6_start2444.mp4",
    "real/ground/MoveForward/S00_10m_ground_label4_start3037.mp4",
    "real/air/Rally/S07_15m_hover_label3_start4958.mp4",
    "real/air/FollowMe/S10_15m_hover_label6_start6062.mp4",
    "real/air/Rally/S04b_15m_hover_label3_start7231.mp4",
    "real/air/Advance/S00_30m_hover_label1_start1589.mp4",
    "real/air/MoveForward/S09_15m_hover_label4_start6458.mp4",
    "syn/ground/FollowMe/Scene28_989_S01_FollowMe_R02_02_5_2_2022_2_20_12.mp4",
    "syn/ground/Advance/Scene1_11_Advance_30_1_2022_17_5_26.mp4",
    "syn/ground/MoveForward/Scene52_301_MoveForward_3_2_2022_16_49_51.mp4",
    "syn/air/FollowMe/Scene24_1036_S01_FollowMe_R04_02_25_8_2022_4_2_55.mp4",
    "syn/air/Attention/Scene17_89_Attention_23_8_2022_16_52_53.mp4",
    "syn/air/MoveForward/Scene39_305_MoveForward_24_8_2022_10_56_41.mp4",
}
LIST_LINES = release.cut_lists(CHOSEN)
LISTS: dict[str, dict[str, list[tuple[str, int]]]] = {}  # config -> split -> lines
for _name, _lines in LIST_LINES.items():
    _domain, _view, _split = _name.split("_", 2)
    LISTS.setdefault(f"{_domain}_{_view}", {})[_split] = _lines
# syn_orbital has no lists: names made from orbital playlist records; its class folders are scanned.
ORBITAL = sorted(  # in the scan's order: class index, then name
    (
        (f"syn/orbital/{names.CLASS_NAMES[label]}/{name}", label)
        for name, label in (release.orbital_name(3, 5), release.orbital_name(0, 700))
    ),
    key=lambda entry: (entry[1], entry[0]),
)
ORBITAL_MASK = ORBITAL[1][0].replace(".mp4", "_mask.mp4")
ORBITAL_ODD = "syn/orbital/Halt/preview.mp4"  # not a synthetic video name: reported, never read
UNLISTED = "syn/air/Rally/Scene3_40_Rally_23_8_2022_1_2_3.mp4"  # in a class folder, in no list
REAL_MP4 = "real/ground/FollowMe/S04b_10m_ground_label6_start2444.mp4"  # the real camera video
EDIT_LIST_MP4 = "real/air/Advance/S00_30m_hover_label1_start1589.mp4"  # it, remuxed: an edit list hides 2
VERBATIM = object()  # companion = the playlist record as is
COMPANIONS = {  # synthetic video -> its <stem>.xml; the other synthetic videos have none
    "syn/ground/FollowMe/Scene28_989_S01_FollowMe_R02_02_5_2_2022_2_20_12.mp4": VERBATIM,
    # differs from the playlist in endTime (used, not reported) and numberOfRepetitions (reported)
    "syn/ground/Advance/Scene1_11_Advance_30_1_2022_17_5_26.mp4": {
        "endTime": "3.5",
        "numberOfRepetitions": "2",
    },
    "syn/air/FollowMe/Scene24_1036_S01_FollowMe_R04_02_25_8_2022_4_2_55.mp4": VERBATIM,
    # one element more than the documented schema: reported, not fatal
    "syn/air/MoveForward/Scene39_305_MoveForward_24_8_2022_10_56_41.mp4": {
        "+": "<cameraNoise>0.1</cameraNoise>"
    },
    ORBITAL[0][0]: VERBATIM,
}
CONFIGS = {"real_ground", "real_air", "syn_ground", "syn_air", "syn_orbital"}


def _companion_text(path: str) -> str | None:
    """The companion XML written for `path` (None when it has none)."""
    edit = COMPANIONS.get(path)
    if edit is None:
        return None
    view = path.split("/")[1]
    index = int(re.match(r"Scene\d+_(\d+)_", path.rsplit("/", 1)[1])[1])
    text = release.record_texts(view)[index]
    for field, value in ({} if edit is VERBATIM else edit).items():
        if field == "+":  # an element more
            text = text.replace("</GestureVideo>", f"  {value}\n    </GestureVideo>")
            continue
        text, n = re.subn(f"<{field}>[^<]*</{field}>", f"<{field}>{value}</{field}>", text)
        assert n == 1
    return release.DECLARATION + text


@pytest.fixture(scope="session")
def tree(tmp_path_factory) -> Path:
    """A RoCoG-v2 checkout with every part extracted in it (written once)."""
    root = tmp_path_factory.mktemp("rocog_v2")
    release.write_checkout(root, LIST_LINES)
    for rel in sorted({p for lines in LIST_LINES.values() for p, _ in lines} | {p for p, _ in ORBITAL}):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel == REAL_MP4:
            shutil.copy(release.REAL_VIDEO, root / rel)
        elif rel == EDIT_LIST_MP4:
            release.remux_with_edit_list(release.REAL_VIDEO, root / rel, hidden=2)
        else:
            release.write_video(root / rel, *release.shape(rel))
        if (text := _companion_text(rel)) is not None:
            (root / rel).with_suffix(".xml").write_text(text)
    for junk in (ORBITAL_MASK, ORBITAL_ODD, UNLISTED):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_bytes(b"not a video: never read")
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
    counts = ", ".join(f"{s} {len(lines)}" for s, lines in sorted(LISTS["real_ground"].items()))
    assert f"rocog_v2/real_ground: {counts}" in result.stdout
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
    shutil.copytree(tree / "simulation_info", dst / "simulation_info")
    shutil.copytree(tree / part.replace("_", "/"), dst / part.replace("_", "/"))
    return dst


def _build(manual_dir: Path, data_dir: Path, config: str = "real_air", **kwargs):
    return datasets.build(
        f"rocog_v2/{config}", str(data_dir), manual_dir=str(manual_dir), builder_kwargs=kwargs
    )


# ----------------------------------------------------------------------------- every config


@pytest.mark.slow
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
            frames = decode_frames(r["frames"])
            assert min(frames.shape[1:3]) == short
            assert frames.shape == (r["num_frames"], r["height"], r["width"], 3)
            if r["path"].decode() in (REAL_MP4, EDIT_LIST_MP4):
                continue  # tests/test_rocog_v2_video.py
            frames_n, height, width, fps = release.shape(r["path"].decode())
            assert r["num_frames"] == frames_n
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
    return tuple(v.decode() if isinstance(v, bytes) else np.asarray(v).item() for v in values)


@pytest.mark.slow
def test_real_metadata(built):
    recs = _by_path(_records(built, "real_ground")) | _by_path(_records(built, "real_air"))
    keys = "subject distance_m view take start_frame"
    assert _fields(recs[REAL_MP4], keys) == ("S04b", 10, "ground", 1, 2444)  # subject with the 'b' suffix
    assert _fields(recs[EDIT_LIST_MP4], keys) == ("S00", 30, "hover", 1, 1589)
    take3 = recs["real/ground/MoveInReverse/S05_10m_ground_3_label7_start3589.mp4"]
    assert _fields(take3, keys)[3:] == (3, 3589)
    assert "scene" not in next(iter(recs.values()))  # one feature table per domain


@pytest.mark.slow
def test_synthetic_metadata_equals_the_repository_xmls(built):
    """Every field of every synthetic example equals the repository's XMLs (read here by regex): the
    companion record where the video has one, else the playlist record at the name's index; the scene
    record at the name's scene index; orbital scenes included."""
    for config in ("syn_ground", "syn_air", "syn_orbital"):
        view = config.split("_")[1]
        for path, rec in _by_path(_records(built, config)).items():
            expected = release.expected_synthetic(path, view, _companion_text(path))
            assert {k: _fields(rec, k)[0] for k in expected} == pytest.approx(expected), path
            mocap = re.search(r"_(S0[12])_[A-Za-z]+_R0\d_0(\d)_", path)
            assert _fields(rec, "performer take") == ((mocap[1], int(mocap[2])) if mocap else ("", -1))
    orbital = _by_path(_records(built, "syn_orbital"))
    assert {_fields(r, "camera_orbit_deg_per_s")[0] for r in orbital.values()} == {45.0}
    assert "subject" not in next(iter(orbital.values()))


@pytest.mark.slow
def test_build_reports_companions_disagreements_and_unlisted_videos(built):
    meta = {c: tfds.builder(f"rocog_v2/{c}", data_dir=built).info.metadata for c in CONFIGS}
    (disagreement,) = meta["syn_ground"]["companion_disagreements"]  # endTime differs too: not compared
    assert disagreement.endswith(
        "Scene1_11_Advance_30_1_2022_17_5_26.xml: repetitions is 2 here but 1 in the playlist"
    )
    assert meta["syn_air"]["companion_disagreements"] == []
    assert meta["syn_air"]["unknown_companion_fields"] == {"cameraNoise": 1}
    assert any(
        "outside the documented schema (ignored): {'cameraNoise': 1}" in n
        for n in meta["syn_air"]["build_notes"]
    )
    assert meta["syn_ground"]["metadata_sources"] == {
        "train": {"companion": 2, "playlist": 0},
        "val": {"companion": 0, "playlist": 1},
    }
    assert meta["syn_air"]["metadata_sources"]["train"] == {"companion": 1, "playlist": 1}
    assert meta["syn_air"]["unlisted_videos"] == [UNLISTED]
    assert meta["syn_orbital"]["unlisted_videos"] == [ORBITAL_ODD]  # the mask is neither read nor listed
    assert meta["real_ground"]["unlisted_videos"] == [] and meta["real_air"]["frames_hidden"] == {
        split: ({EDIT_LIST_MP4: 2} if any(p == EDIT_LIST_MP4 for p, _ in lines) else {})
        for split, lines in LISTS["real_air"].items()
    }
    assert any("frames fewer than their containers list" in n for n in meta["real_air"]["build_notes"])
    assert any(f"in no list and were left out: {UNLISTED}" in n for n in meta["syn_air"]["build_notes"])


def _zip(archive: Path, folder: Path, inside: str, extra: dict[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(archive, "w") as z:
        for file in sorted(folder.rglob("*")):
            z.write(file, f"{inside}/{file.relative_to(folder)}")
        for name, data in (extra or {}).items():
            z.writestr(name, data)


@pytest.mark.slow
def test_zip_manual_dir_builds_the_same_records(tree, built, tmp_path):
    """real_ground.zip holds real/ground/...; syn_air.zip nests its class folders three levels down,
    beside the __MACOSX copies macOS zip tools add."""
    manual = tmp_path / "manual"
    for name in ("annotations", "simulation_info"):
        shutil.copytree(tree / name, manual / name)
    shutil.copy(tree / "class_dict.json", manual)
    _zip(manual / "real_ground.zip", tree / "real/ground", "real/ground")
    junk = {"__MACOSX/syn_air/syn/air/Rally/._x.mp4": b"resource fork"}
    _zip(manual / "syn_air.zip", tree / "syn/air", "syn_air/syn/air", junk)
    data_dir = tmp_path / "tfds"
    _build(manual, data_dir, "real_ground", frame_short_side=CLI_SHORT_SIDE)
    _build(manual, data_dir, "syn_air")
    for config in ("real_ground", "syn_air"):
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


def test_zip_search_is_bounded_and_unambiguous(tree, tmp_path):
    part = sources.Part("syn", "air")

    def view_dir(inside: str, extra: dict[str, bytes] | None = None) -> Path:
        """The part's folder found in a manual_dir holding syn_air.zip with the videos under `inside`."""
        manual = tmp_path / inside.replace("/", "_")
        shutil.copytree(tree / "simulation_info", manual / "simulation_info")
        shutil.copy(tree / "class_dict.json", manual)
        _zip(manual / "syn_air.zip", tree / "syn/air", inside, extra)
        return sources.from_manual_dir(manual, part, (), tmp_path / "extracted").view_dir

    with pytest.raises(ValueError, match=r"class folders .* in 2 places: a/syn/air, b; expected exactly one"):
        view_dir("a/syn/air", {"b/Halt/x.mp4": b""})
    with pytest.raises(FileNotFoundError, match="holds no class folders of syn_air within 3 levels"):
        view_dir("1/2/3/4")
    assert view_dir("1/2/3").parts[-3:] == ("1", "2", "3")


def test_download_urls_and_unzip(tree, tmp_path):
    """The download path with a stand-in download manager (tests have no network)."""
    _zip(tmp_path / "syn_air.zip", tree / "syn/air", "syn/air")
    urls = []

    class FakeDownloads:
        def download(self, url_or_urls):
            urls.append(url_or_urls)
            if isinstance(url_or_urls, str):
                return tmp_path / "syn_air.zip"
            return {k: tree / url.split(f"/{sources.REPO_COMMIT}/")[1] for k, url in url_or_urls.items()}

    part = sources.Part("syn", "air")
    src = sources.from_download(FakeDownloads(), part, ["train"], tmp_path / "extracted")
    repo = "https://raw.githubusercontent.com/reddyav1/RoCoG-v2/4f7f7a5ba4b252289b09c8513c8da979c91b48ab"
    assert urls == [
        {
            "train": f"{repo}/annotations/syn_air_train.txt",
            "playlist": f"{repo}/simulation_info/xml/rocog_hover_gestures.xml",
            "scenes": f"{repo}/simulation_info/xml/rocog_hover.xml",
            "class_dict.json": f"{repo}/class_dict.json",
        },
        "https://www.cis.jhu.edu/~rocog/data/syn_air.zip",
    ]
    assert src.lists == {"train": tree / "annotations/syn_air_train.txt"}
    assert src.simulation == {
        "playlist": tree / "simulation_info/xml/rocog_hover_gestures.xml",
        "scenes": tree / "simulation_info/xml/rocog_hover.xml",
    }
    entries = {"train": names.parse_list(src.lists["train"].read_text(), "list", part.prefix)}
    assert [f.name for f in sources.resolve(entries, part, src.view_dir)["train"]] == [
        p.rsplit("/", 1)[1] for p, _ in LISTS["syn_air"]["train"]
    ]


@pytest.mark.slow
def test_built_frame_short_side_is_checked(built):
    with pytest.raises(ValueError, match="built with frame_short_side=32, not 64"):
        tfds.builder("rocog_v2/real_ground", data_dir=built, frame_short_side=64)


# ----------------------------------------------------------------------------- bad data


def _damage(manual: Path) -> tuple[str, str]:
    """Garbage bytes for one test video; another cut after 6 of its 12 frames, its index intact."""
    garbage, truncated = LISTS["real_air"]["test"][0][0], LISTS["real_air"]["test"][1][0]
    (manual / garbage).write_bytes(os.urandom(2000))
    release.write_video(manual / truncated, 12, 48, 64, 25, faststart=True)  # index before the frames
    with av.open(str(manual / truncated)) as container:
        cut = [packet.pos for packet in container.demux(container.streams.video[0]) if packet.size][6]
    (manual / truncated).write_bytes((manual / truncated).read_bytes()[:cut])
    return garbage, truncated


@pytest.mark.slow
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
        (
            "no_simulation",
            "lacks simulation_info/xml/rocog_hover_gestures.xml, simulation_info/xml/rocog_hover.xml",
        ),
    ],
)
def test_wrong_manual_dir_says_what_was_expected(tree, tmp_path, layout, message):
    manual = tmp_path / "manual"
    if layout != "missing":
        manual.mkdir()
    if layout == "wrong":
        (manual / "notes.txt").write_text("not a RoCoG-v2 checkout")
    if layout in ("no_videos", "no_simulation"):
        shutil.copytree(tree / "annotations", manual / "annotations")
        shutil.copy(tree / "class_dict.json", manual)
    if layout == "no_simulation":  # a synthetic part needs the generator's XMLs
        shutil.copytree(tree / "syn/air", manual / "syn/air")
    with pytest.raises(FileNotFoundError, match=message):
        _build(manual, tmp_path / "tfds", "syn_air" if layout == "no_simulation" else "real_air")


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


def test_build_flags_only_reach_builders_that_take_them():
    kwargs = build_cli.builder_kwargs("rocog_v2/real_air", skip_bad_videos=True, frame_short_side=None)
    assert kwargs == {"skip_bad_videos": True}
    with pytest.raises(app.UsageError, match="--skip_bad_videos does not apply to toy_gestures/real_small"):
        build_cli.builder_kwargs("toy_gestures/real_small", skip_bad_videos=True, frame_short_side=None)
    assert (
        build_cli.builder_kwargs("toy_gestures/real_small", skip_bad_videos=False, frame_short_side=None)
        == {}
    )


@pytest.mark.slow
def test_paper_protocol_runs_on_the_built_splits(built, tmp_path):
    """The paper's ground protocol (synthetic vs real gallery → real test) end to end on the fake release."""
    from gesture_jax import config_lib
    from gesture_jax.evaluation import report
    from gesture_jax.modes import frozen_probes

    config = config_lib.load_file("configs/demo.py:smoke")
    with config.unlocked():
        config.data.data_dir = str(built)
        config.knn = config_lib.knn()  # the paper's ground protocol
        config.knn.k = 1  # the fake real gallery holds 3 videos
    rows = [report.row_json(r) for r in frozen_probes.run(config, str(tmp_path))]
    rows = [r for r in rows if "protocol" in r.get("roles", ())]
    assert [(r["gallery"], r["queries"]) for r in rows] == [
        ("rocog_v2/syn_ground:train", "rocog_v2/real_ground:test"),
        ("rocog_v2/real_ground:train", "rocog_v2/real_ground:test"),
    ]
    assert rows[0]["num_gallery"] == len(LISTS["syn_ground"]["train"])
    assert all(r["num_queries"] == len(LISTS["real_ground"]["test"]) for r in rows)
    # Broken down by the real queries' subject, distance and view, and by the generator parameters of
    # each query's nearest synthetic video, read from the builder's records by their exact names.
    n = len(LISTS["real_ground"]["test"])
    synthetic = rows[0]["breakdowns"]
    for field in ("subject", "distance_m", "view", "nearest gallery video: avatar"):
        assert sum(c["count"] for c in synthetic[field]) == n
        assert all(c["ci95"][0] <= c["accuracy"] <= c["ci95"][1] for c in synthetic[field])
    assert {c["value"] for c in synthetic["nearest gallery video: visual_realism"]} <= {"Animated", "Mocap"}
    ids = np.load(next((tmp_path / "features").glob("*real_ground_test*")) / "features.npz")["ids"]
    assert ids.tolist() == [p for p, _ in LISTS["real_ground"]["test"]]  # features keyed by the list paths


@pytest.mark.slow
def test_diagnose_attributes_to_the_generator_fields_by_their_names(built, tmp_path):
    """A paper row's diagnose config on the fake release (the toy encoder in place of the checkpoint):
    the generator's fields come from the records by their exact names, the splits are the protocol's,
    and a set too small for the domain classifier says so rather than failing."""
    import csv
    import json

    from gesture_jax import config_lib
    from gesture_jax.data import groups
    from gesture_jax.modes import diagnose

    config = config_lib.load_file("configs/diagnose/rocog_v2.py:umt_b16_ft_k710")
    smoke = config_lib.load_file("configs/diagnose/demo.py:smoke")
    with config.unlocked():
        config.encoder, config.extract = smoke.encoder, smoke.extract
        config.data.data_dir = str(built)
        config.diagnose.k = 1  # the fake synthetic gallery holds 2 videos
    assert config.diagnose.selection == "rocog_v2/real_ground:train"
    diagnose.run(config, str(tmp_path))
    gap = json.load(open(tmp_path / diagnose.DOMAIN_GAP_JSON))["encoders"]["toy-vit-pretrained"]
    pair = gap["pairs"]["rocog_v2/syn_ground:train | rocog_v2/real_ground:test"]
    assert (
        pair["proxy_a_distance"] is None
        and "at least 5 videos in each set, got 2 and 2" in (pair["proxy_a_distance_not_computed"])
    )
    lines = list(csv.DictReader(open(tmp_path / diagnose.ATTRIBUTION_CSV)))
    assert {line["field"] for line in lines} == set(groups.attribution_fields("rocog_v2/syn_ground"))
    records = _records(built, "syn_ground")["train"]
    for field in ("avatar", "terrain", "visual_realism", "race"):
        want = sorted({r[field].decode() for r in records})
        assert sorted(line["value"] for line in lines if line["field"] == field) == want
    # Leaving a value out of a 2-video gallery leaves too few for a vote: said, not computed.
    assert all(line["skipped"] for line in lines if int(line["num_removed"]))
    assert gap["attribution"]["curation"]["steps"] == []
