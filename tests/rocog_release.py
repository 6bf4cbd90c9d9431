"""A fake RoCoG-v2 release made of the real repository's files (tests/fixtures/rocog_v2_repo, a copy of
github.com/reddyav1/RoCoG-v2 at the commit in its COMMIT file), shared by the rocog_v2 tests.

The lists are the real lists cut down to chosen real entries (in the real lists' order); each chosen
video is a tiny libx264 clip (or the real camera mp4), and a synthetic video's companion ``<stem>.xml``
is its playlist record copied verbatim, the false ``utf-16`` declaration included. The expected values
come from the XML text by plain regular expressions, independently of the builder's parser.
"""

import re
import shutil
from pathlib import Path

import av
import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = FIXTURES / "rocog_v2_repo"
REAL_VIDEO = FIXTURES / "real_video" / "water_bottle_drumming.mp4"  # H.264 High, B-frames, 100 frames
XML_DIR = REPO / "simulation_info" / "xml"
VIEW_FILES = {  # view -> (playlist, scene table), as the repository names them
    "ground": ("rocog_ground_gestures.xml", "rocog_ground.xml"),
    "air": ("rocog_hover_gestures.xml", "rocog_hover.xml"),
    "orbital": ("rocog_orbital_gestures.xml", "rocog_orbital.xml"),
}
DECLARATION = '<?xml version="1.0" encoding="utf-16"?>\n'
_RECORD = re.compile(r"<GestureVideo>.*?</GestureVideo>", re.S)
_SCENE = re.compile(r"<SyntheticScene>.*?</SyntheticScene>", re.S)
_FIELD = re.compile(r"<(\w+)>([^<]*)</\1>")


def list_lines(name: str) -> list[tuple[str, int]]:
    """(path, label) of each line of annotations/<name>.txt."""
    lines = (REPO / "annotations" / f"{name}.txt").read_text().splitlines()
    return [(path, int(label)) for path, label in (line.split() for line in lines)]


def record_texts(view: str) -> list[str]:
    """The view's playlist records, each verbatim from ``<GestureVideo>`` to ``</GestureVideo>``."""
    return _RECORD.findall((XML_DIR / VIEW_FILES[view][0]).read_text())


def record_fields(text: str) -> dict[str, str]:
    return dict(_FIELD.findall(text))


def scene_fields(view: str) -> list[dict[str, str]]:
    """Each ``<SyntheticScene>``'s leaf elements by name (their names are unique within a scene)."""
    return [dict(_FIELD.findall(s)) for s in _SCENE.findall((XML_DIR / VIEW_FILES[view][1]).read_text())]


def expected_scene(raw: dict[str, str]) -> dict:
    """The builder's scene fields from one scene's raw elements."""
    return {
        "terrain": raw["terrain"],
        "avatar": raw["target"],
        "sun_temperature_k": float(raw["sunColorTemperature"]),
        "camera_yaw": float(raw["yRotation"]),
        "camera_distance_m": float(raw["distanceToTarget"]),
        "camera_height_m": float(raw["height"]),
        "camera_orbit_deg_per_s": float(raw["degreesPerSecond"]) if raw.get("animate") == "true" else 0.0,
    }


def expected_synthetic(path: str, view: str, companion: str | None) -> dict:
    """What the release says about a synthetic video: its companion (or playlist record) and scene."""
    name = path.rsplit("/", 1)[1]
    scene, index = (int(v) for v in re.match(r"Scene(\d+)_(\d+)_", name).groups())
    rec = record_fields(companion if companion is not None else record_texts(view)[index])
    return {
        "scene": scene,
        "video_index": index,
        "gesture_start_s": float(rec["startTime"]),
        "gesture_end_s": float(rec["endTime"]),
        "repetitions": int(rec["numberOfRepetitions"]),
        "gesture_speed": float(rec["gestureSpeed"]),
        "gesture_variation": int(rec["gestureVariation"]),
        "mirrored": rec["mirrored"] == "true",
        "pose": rec["pose"],
        "race": rec["race"],
        "thickness": rec["thickness"],
        "visual_realism": rec["visualRealism"],
        **expected_scene(scene_fields(view)[scene]),
        "metadata_source": "companion" if companion is not None else "playlist",
    }


def orbital_name(scene: int, index: int, stamp: str = "1_1_2023_1_1_1") -> tuple[str, int]:
    """A synthetic file name (and label) for orbital playlist record `index`: the orbital zip has no
    lists, so its names are made from the records, in the documented pattern."""
    rec = record_fields(record_texts("orbital")[index])
    classes = [c for c, _ in sorted(_class_dict().items(), key=lambda kv: kv[1])]
    middle = rec["gesture"]
    if rec["visualRealism"] == "Mocap":
        performer, cls, reps, take = rec["mocapAnimationTrigger"].split("_")
        middle = f"{performer}_{cls}_{reps}_{take}"
    return f"Scene{scene}_{index}_{middle}_{stamp}.mp4", classes.index(rec["gesture"])


def _class_dict() -> dict[str, int]:
    import json

    return {name: int(i) for i, name in json.loads((REPO / "class_dict.json").read_text()).items()}


def write_video(path: Path, num_frames: int, height: int, width: int, fps: int, faststart=False) -> None:
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


def remux_with_edit_list(src: Path, dst: Path, hidden: int) -> None:
    """`src` with its first `hidden` frames pushed before time 0: the mp4 muxer writes an edit list that
    hides them, as real encoders' files do for B-frame priming."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        shift = hidden * int(1 / (stream.average_rate * stream.time_base))
        template = out.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if packet.dts is None:  # the flush packet
                continue
            packet.pts, packet.dts, packet.stream = packet.pts - shift, packet.dts - shift, template
            out.mux(packet)


def shape(path: str) -> tuple[int, int, int, int]:
    """(frames, height, width, fps) of a fake video: real ones landscape, synthetic ones portrait."""
    frames = 8 + len(path) % 5
    return (frames, 48, 64, 25) if path.startswith("real/") else (frames, 64, 48, 30)


def write_checkout(root: Path, lists: dict[str, list[tuple[str, int]]]) -> None:
    """annotations/ (the given lines per list name), class_dict.json and simulation_info/xml/."""
    (root / "annotations").mkdir(parents=True)
    for name, lines in lists.items():
        (root / "annotations" / f"{name}.txt").write_text("".join(f"{p} {label}\n" for p, label in lines))
    shutil.copy(REPO / "class_dict.json", root)
    shutil.copytree(XML_DIR, root / "simulation_info" / "xml")
    for file in [root / "class_dict.json", *(root / "simulation_info" / "xml").iterdir()]:
        file.chmod(0o644)  # the fixtures may be read-only; tests damage their copies


def cut_lists(chosen: set[str]) -> dict[str, list[tuple[str, int]]]:
    """Every real list, keeping only the chosen paths (in list order); lists left empty are dropped."""
    out = {}
    for file in sorted((REPO / "annotations").glob("*.txt")):
        kept = [(p, label) for p, label in list_lines(file.stem) if p in chosen]
        if kept:
            out[file.stem] = kept
    missing = chosen - {p for lines in out.values() for p, _ in lines}
    assert not missing, f"not in any real list: {missing}"
    return out
