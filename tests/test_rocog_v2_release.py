"""RoCoG-v2 names and generator XMLs, on the repository's own files (tests/fixtures/rocog_v2_repo): every
list name parses and joins its playlist record; records and scenes are read by exact element name."""

import re

import pytest
import rocog_release as release

from tfds_builders.rocog_v2 import metadata, names, simulation, sources

LIST_COUNTS = {  # the release's annotation lists
    "syn_ground_train": 44_510,
    "syn_ground_val": 8_928,
    "syn_air_train": 44_640,
    "syn_air_val": 8_918,
    "real_ground_train": 204,
    "real_ground_test": 100,
    "real_ground_train_tsonly": 162,
    "real_ground_val_tsonly": 42,
    "real_air_train": 87,
    "real_air_test": 91,
    "real_air_train_tsonly": 66,
    "real_air_val_tsonly": 21,
}
VIEWS = ("ground", "air", "orbital")


def _simulation(view: str) -> metadata.Simulation:
    playlist, scenes = release.VIEW_FILES[view]
    return metadata.Simulation.read(release.XML_DIR / playlist, release.XML_DIR / scenes)


@pytest.fixture(scope="module")
def sims() -> dict[str, metadata.Simulation]:
    return {view: _simulation(view) for view in VIEWS}


def test_every_list_name_parses_and_every_synthetic_name_joins_its_playlist_record(sims):
    """All 107,769 lines: real names parse; each synthetic name's gesture, kind and (mocap) performer,
    repetitions and take equal its playlist record's, and its scene exists."""
    counts, mocap = {}, 0
    for file in sorted((release.REPO / "annotations").glob("*.txt")):
        domain, view = file.stem.split("_")[:2]
        part = sources.Part(domain, view)
        entries = names.parse_list(file.read_text(), str(file), part.prefix)
        counts[file.stem] = len(entries)
        for e in entries:
            if domain == "real":
                assert (
                    names.real_metadata(e.path, e.label)["view"] == {"ground": "ground", "air": "hover"}[view]
                )
                continue
            fields, disagreements = metadata.synthetic_metadata(e.path, e.label, sims[view], None)
            assert disagreements == [] and fields["metadata_source"] == "playlist"
            mocap += fields["visual_realism"] == "Mocap"
    assert counts == LIST_COUNTS and sum(counts.values()) == 107_769
    assert (
        mocap == 48_254
    )  # train: 20,030 ground + 20,160 air (counted from the release's lists); val: the rest


def test_the_join_checks_gesture_kind_and_mocap_trigger(sims):
    ground = "syn/ground/FollowMe/Scene28_989_S01_FollowMe_R02_02_5_2_2022_2_20_12.mp4"
    metadata.synthetic_metadata(ground, 5, sims["ground"], None)
    # The same name against the hover playlist: record 989 there is another clip.
    with pytest.raises(ValueError, match=r"does not match .*rocog_hover_gestures.xml record 989: "):
        metadata.synthetic_metadata(ground.replace("/ground/", "/air/"), 5, sims["air"], None)
    cases = {
        "Scene28_989_S01_FollowMe_R03_02": "mocap_trigger 'S01_FollowMe_R02_02' .the name says '.*_R03_02'.",
        "Scene28_989_S02_FollowMe_R02_02": "mocap_trigger 'S01_FollowMe_R02_02'",
        "Scene28_989_S01_FollowMe_R02_01": "mocap_trigger 'S01_FollowMe_R02_02'",
        "Scene28_12_S01_FollowMe_R02_02": "gesture 'Advance' .the name says 'FollowMe'.; visual_realism",
        "Scene28_989_FollowMe": "visual_realism 'Mocap' .the name says 'Animated'.",
        "Scene28_1116_FollowMe": "video index 1116 is past the 1116 records of .*rocog_ground_gestures.xml",
        "Scene96_989_S01_FollowMe_R02_02": "scene 96 is past the 96 scenes of .*rocog_ground.xml",
    }
    for stem, message in cases.items():
        with pytest.raises(ValueError, match=message):
            path = f"syn/ground/FollowMe/{stem}_5_2_2022_2_20_12.mp4"
            metadata.synthetic_metadata(path, 5, sims["ground"], None)


@pytest.mark.parametrize("view", VIEWS)
def test_playlists_read_by_exact_name(view, sims):
    """Every record of every playlist equals the XML text (regex); never startDelay / endDelay."""
    texts = release.record_texts(view)
    records = sims[view].playlist
    assert len(records) == len(texts) == 1116
    for record, text in zip(records, texts):
        raw = release.record_fields(text)
        f = record.fields
        assert (f["gesture_start_s"], f["gesture_end_s"]) == (float(raw["startTime"]), float(raw["endTime"]))
        assert f["repetitions"] == int(raw["numberOfRepetitions"]) and f["gesture"] == raw["gesture"]
        assert (f["gesture_speed"], f["gesture_variation"]) == (
            float(raw["gestureSpeed"]),
            int(raw["gestureVariation"]),
        )
        assert (f["pose"], f["race"], f["thickness"]) == (raw["pose"], raw["race"], raw["thickness"])
        assert (f["visual_realism"], f["mirrored"]) == (raw["visualRealism"], raw["mirrored"] == "true")
        assert record.mocap_trigger == raw.get("mocapAnimationTrigger", "") and record.unknown == ()
    starts, ends = ({r.fields[k] for r in records} for k in ("gesture_start_s", "gesture_end_s"))
    assert 1.0 not in starts and 1.0 not in ends and len(ends) > 50  # startDelay = endDelay = 1 everywhere
    assert sum(r.fields["visual_realism"] == "Mocap" for r in records) == 504


@pytest.mark.parametrize("view, count", [("ground", 96), ("air", 48), ("orbital", 48)])
def test_scenes_read_by_exact_name(view, count, sims):
    scenes = sims[view].scenes
    raw = release.scene_fields(view)
    assert len(scenes) == len(raw) == count
    assert scenes == [release.expected_scene(r) for r in raw]
    assert {s["camera_yaw"] for s in scenes} == {30.0, 90.0, 150.0, 210.0, 270.0, 330.0}
    assert {s["terrain"] for s in scenes} == {"Grassy Terrain", "Desert Terrain"}
    assert {s["camera_orbit_deg_per_s"] for s in scenes} == ({45.0} if view == "orbital" else {0.0})


# ----------------------------------------------------------------------------- companion records


def _companion(view: str, index: int) -> bytes:
    return (release.DECLARATION + release.record_texts(view)[index]).encode()


@pytest.mark.parametrize("view, index", [("ground", 0), ("air", 612), ("orbital", 1115), ("air", 300)])
def test_companion_verbatim_records(view, index):
    """A companion is a playlist record as the root, under a utf-16 declaration over UTF-8 bytes."""
    data = _companion(view, index)
    assert data.startswith(b'<?xml version="1.0" encoding="utf-16"?>')
    record = simulation.parse_companion(data, "x.xml")
    assert record == _simulation(view).playlist[index]
    bom_utf16 = data.decode().encode("utf-16")  # a file that really is UTF-16 (with its BOM) reads the same
    assert simulation.parse_companion(bom_utf16, "x.xml") == record


def _edited(data: bytes, pattern: str, replacement: str) -> bytes:
    text, n = re.subn(pattern, replacement, data.decode())
    assert n == 1
    return text.encode()


def test_companion_missing_fields_is_an_error_naming_file_and_fields():
    data = _edited(_companion("ground", 5), r"\s*<startTime>[^<]*</startTime>", "")
    data = _edited(data, r"\s*<numberOfRepetitions>[^<]*</numberOfRepetitions>", "")
    with pytest.raises(
        ValueError, match=r"^clip.xml: <GestureVideo> lacks startTime, numberOfRepetitions \(has "
    ):
        simulation.parse_companion(data, "clip.xml")


@pytest.mark.parametrize(
    "pattern, replacement, message",
    [
        (
            r"<endTime>[^<]*</endTime>",
            "<endTime>late</endTime>",
            "<endTime> 'late' is not a valid gesture_end_s",
        ),
        (
            r"<mirrored>[^<]*</mirrored>",
            "<mirrored>yes</mirrored>",
            "<mirrored> 'yes' is not a valid mirrored",
        ),
        (r"<visualRealism>[^<]*</visualRealism>", "<visualRealism>Film</visualRealism>", "'Film'; expected"),
        (r"<pose>", "<pose>Idle1</pose><pose>", "<pose> appears twice"),
        (r"<GestureVideo>", "<Scene>", "unreadable XML"),
    ],
)
def test_companion_bad_values_are_errors(pattern, replacement, message):
    data = _edited(_companion("air", 40), pattern, replacement)
    with pytest.raises(ValueError, match=re.escape("c.xml: ") + ".*" + re.escape(message)):
        simulation.parse_companion(data, "c.xml")


def test_companion_unknown_elements_are_kept_aside_and_other_roots_refused():
    data = _edited(_companion("air", 40), r"</thickness>", "</thickness><cameraNoise>0.1</cameraNoise>")
    assert simulation.parse_companion(data, "c.xml").unknown == ("cameraNoise",)
    scene_file = (release.XML_DIR / "rocog_hover.xml").read_bytes()
    with pytest.raises(
        ValueError, match=r"c.xml: expected a <GestureVideo> record, found <SyntheticDataset>"
    ):
        simulation.parse_companion(scene_file, "c.xml")


def test_playlist_and_scene_table_errors():
    playlist = (release.XML_DIR / "rocog_hover_gestures.xml").read_bytes()
    swapped = playlist.replace(b"<Gestures>Advance</Gestures>", b"<Gestures>Halt</Gestures>", 1)
    with pytest.raises(ValueError, match=r"p.xml: <gestures> lists \('Halt', 'Attention'"):
        simulation.parse_playlist(swapped, "p.xml", names.CLASS_NAMES)
    scenes = (release.XML_DIR / "rocog_orbital.xml").read_text()
    broken = re.sub(r"<yRotation>[^<]*</yRotation>", "", scenes, count=1).encode()
    with pytest.raises(ValueError, match=r"s.xml: <SyntheticScene> 0 <cameraParameters> lacks <yRotation>"):
        simulation.parse_scenes(broken, "s.xml")
    with pytest.raises(ValueError, match="root is <GestureVideoPlaylist>; expected <SyntheticDataset>"):
        simulation.parse_scenes(playlist, "s.xml")
