"""Each synthetic video's metadata: its file name joined to its view's playlist record, its scene and,
where it has one, its companion XML (the release's simulation_info/xml files).

The name's ``<I>`` indexes the playlist and ``Scene<S>`` the scene table. The join is checked: the
record must have the name's gesture and Animated/Mocap kind, and a mocap record's
``mocapAnimationTrigger`` must be the name's ``<performer>_<Class>_R0<r>_0<t>`` (true for all 106,996
synthetic list entries of the release). A failed check means the wrong playlist or a renamed file, so
it stops the build. Gesture parameters then come from the companion XML when there is one, else from
the playlist record; a companion that disagrees with the playlist on gesture, kind or repetitions is
reported (file, field, both values) and its own values are used.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from tfds_builders.rocog_v2 import names, simulation
from tfds_builders.rocog_v2.simulation import GestureRecord

COMPARED_FIELDS = ("gesture", "visual_realism", "repetitions")  # companion vs playlist
# Example fields from the gesture record (the record's gesture is the label, so it is not repeated).
RECORD_FIELDS = tuple(ours for ours, _ in simulation.GESTURE_FIELDS.values() if ours != "gesture")


@dataclasses.dataclass(frozen=True)
class Simulation:
    """One view's generator records: playlist index -> gesture record, scene index -> scene fields."""

    playlist: list[GestureRecord]
    scenes: list[dict[str, Any]]
    playlist_source: str
    scenes_source: str

    @classmethod
    def read(cls, playlist: Path, scenes: Path) -> Simulation:
        return cls(
            simulation.parse_playlist(playlist.read_bytes(), str(playlist), names.CLASS_NAMES),
            simulation.parse_scenes(scenes.read_bytes(), str(scenes)),
            str(playlist),
            str(scenes),
        )


@dataclasses.dataclass(frozen=True)
class Disagreement:
    path: str  # the companion XML
    field: str
    companion: Any
    playlist: Any

    def __str__(self) -> str:
        return f"{self.path}: {self.field} is {self.companion!r} here but {self.playlist!r} in the playlist"


def playlist_record(path: str, name: dict[str, Any], sim: Simulation) -> GestureRecord:
    """The playlist record a synthetic file name points to, after checking that they agree."""
    index = name["video_index"]
    if index >= len(sim.playlist):
        raise ValueError(
            f"{path}: video index {index} is past the {len(sim.playlist)} records of {sim.playlist_source}"
        )
    record, where = sim.playlist[index], f"{sim.playlist_source} record {index}"
    expected = {"gesture": name["gesture"], "visual_realism": name["visual_realism"]}
    if record.mocap_trigger or name["performer"]:
        trigger = "_".join(
            [name["performer"], name["gesture"], f"R0{name['repetitions']}", f"0{name['take']}"]
        )
        expected["mocap_trigger"] = trigger
    found = {**record.fields, "mocap_trigger": record.mocap_trigger}
    wrong = [f"{k} {found[k]!r} (the name says {v!r})" for k, v in expected.items() if found[k] != v]
    if wrong:
        raise ValueError(f"{path} does not match {where}: {'; '.join(wrong)}")
    return record


def synthetic_metadata(
    path: str, label: int, sim: Simulation, companion: tuple[str, GestureRecord] | None
) -> tuple[dict[str, Any], list[Disagreement]]:
    """Example fields of one synthetic video and how its companion (XML path, record) disagrees with
    the playlist. `companion` is None when the video has no ``<stem>.xml``."""
    name = names.synthetic_name_fields(path, label)
    scene = name["scene"]
    if scene >= len(sim.scenes):
        raise ValueError(f"{path}: scene {scene} is past the {len(sim.scenes)} scenes of {sim.scenes_source}")
    listed = playlist_record(path, name, sim)
    disagreements = []
    record, source = listed, "playlist"
    if companion is not None:
        xml_path, record = companion
        source = "companion"
        disagreements = [
            Disagreement(xml_path, field, record.fields[field], listed.fields[field])
            for field in COMPARED_FIELDS
            if record.fields[field] != listed.fields[field]
        ]
    fields = {
        "scene": scene,
        "video_index": name["video_index"],
        **sim.scenes[scene],
        **{k: record.fields[k] for k in RECORD_FIELDS},
        "performer": name["performer"],
        "take": name["take"],
        "metadata_source": source,
    }
    return fields, disagreements
