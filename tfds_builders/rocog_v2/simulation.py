"""The release's own generator records (simulation_info/xml), read by their exact element names.

Three kinds of XML, all written by the Unity generator:

- a ``<GestureVideo>`` record: one per playlist entry in ``simulation_info/xml/rocog_*_gestures.xml``,
  and the root of each synthetic video's companion ``<stem>.xml``;
- a playlist ``<GestureVideoPlaylist>``, whose ``<gestureVideos>`` children are indexed by the second
  field ``<I>`` of a synthetic file name;
- a scene table ``<SyntheticDataset>`` (``rocog_{ground,hover,orbital}.xml``), whose ``<scenes>``
  children are indexed by ``Scene<S>``.

Fields are taken by exact name only. The record also holds ``startDelay``/``endDelay`` (the lead-in
and tail of the clip): a name heuristic ("the first field containing start") picks those and turns
every gesture window into 1.0–1.0 s, so a record missing a field is an error naming the file and the
field, never a guess. Every file declares ``encoding="utf-16"`` but holds UTF-8 bytes; the
declaration is dropped and the bytes decoded by their actual byte-order mark (UTF-8 without one).
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _bool(text: str) -> bool:
    if text not in ("true", "false"):  # .NET's XmlSerializer spelling
        raise ValueError(f"expected true or false, got {text!r}")
    return text == "true"


# <GestureVideo> element -> (our field, parser). Order as in the files; every one is required.
GESTURE_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "startTime": ("gesture_start_s", float),
    "endTime": ("gesture_end_s", float),
    "gesture": ("gesture", str),
    "gestureSpeed": ("gesture_speed", float),
    "numberOfRepetitions": ("repetitions", int),
    "gestureVariation": ("gesture_variation", int),
    "mirrored": ("mirrored", _bool),
    "pose": ("pose", str),
    "visualRealism": ("visual_realism", str),
    "race": ("race", str),
    "thickness": ("thickness", str),
}
# Present in every record but not gesture parameters of the video (clip timing), or mocap-only.
_OTHER_GESTURE_ELEMENTS = ("startDelay", "duration", "endDelay", "mocapAnimationTrigger")
VISUAL_REALISMS = ("Animated", "Mocap")


@dataclasses.dataclass(frozen=True)
class GestureRecord:
    fields: dict[str, Any]  # GESTURE_FIELDS' names -> values
    mocap_trigger: str  # e.g. "S01_Advance_R01_02" (performer, class, repetitions, take); "" if animated
    unknown: tuple[str, ...] = ()  # child elements outside the documented schema (reported, not fatal)


def read_xml(data: bytes, source: str) -> ET.Element:
    """The root element of a generator XML, past its false encoding declaration."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return ET.fromstring(_DECLARATION.sub("", data.decode(encoding), count=1))
    except (UnicodeDecodeError, ET.ParseError) as e:
        raise ValueError(f"{source}: unreadable XML ({e})") from None


def _children(element: ET.Element, where: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for child in element:
        if child.tag in values:
            raise ValueError(f"{where}: <{child.tag}> appears twice in <{element.tag}>")
        values[child.tag] = (child.text or "").strip()
    return values


def gesture_record(element: ET.Element, source: str) -> GestureRecord:
    """One ``<GestureVideo>`` -> its gesture parameters; `source` names it in errors."""
    if element.tag != "GestureVideo":
        raise ValueError(f"{source}: expected a <GestureVideo> record, found <{element.tag}>")
    values = _children(element, source)
    missing = [name for name in GESTURE_FIELDS if name not in values]
    if missing:
        raise ValueError(f"{source}: <GestureVideo> lacks {', '.join(missing)} (has {', '.join(values)})")
    fields = {}
    for name, (ours, parse) in GESTURE_FIELDS.items():
        try:
            fields[ours] = parse(values[name])
        except ValueError as e:
            raise ValueError(f"{source}: <{name}> {values[name]!r} is not a valid {ours} ({e})") from None
    if fields["visual_realism"] not in VISUAL_REALISMS:
        raise ValueError(
            f"{source}: <visualRealism> {fields['visual_realism']!r}; expected {VISUAL_REALISMS}"
        )
    trigger = values.get("mocapAnimationTrigger", "")
    if (fields["visual_realism"] == "Mocap") != bool(trigger):
        raise ValueError(
            f"{source}: a {fields['visual_realism']} record with mocapAnimationTrigger {trigger!r}"
        )
    known = {*GESTURE_FIELDS, *_OTHER_GESTURE_ELEMENTS}
    return GestureRecord(fields, trigger, tuple(sorted(set(values) - known)))


def parse_companion(data: bytes, source: str) -> GestureRecord:
    """A video's ``<stem>.xml``: one ``<GestureVideo>`` record as the root element."""
    return gesture_record(read_xml(data, source), source)


def _only(root: ET.Element, tag: str, source: str) -> ET.Element:
    found = root.findall(tag)
    if len(found) != 1:
        raise ValueError(f"{source}: expected one <{tag}> under <{root.tag}>, found {len(found)}")
    return found[0]


def parse_playlist(data: bytes, source: str, class_names: tuple[str, ...]) -> list[GestureRecord]:
    """A ``<GestureVideoPlaylist>`` -> its records, in index order (a file name's ``<I>``)."""
    root = read_xml(data, source)
    if root.tag != "GestureVideoPlaylist":
        raise ValueError(f"{source}: root is <{root.tag}>; expected <GestureVideoPlaylist>")
    gestures = tuple((g.text or "").strip() for g in _only(root, "gestures", source))
    if gestures != class_names:
        raise ValueError(f"{source}: <gestures> lists {gestures}; expected class_dict.json's {class_names}")
    videos = list(_only(root, "gestureVideos", source))
    if not videos:
        raise ValueError(f"{source}: <gestureVideos> is empty")
    return [gesture_record(v, f"{source}: <GestureVideo> {i}") for i, v in enumerate(videos)]


def _number(values: dict[str, str], name: str, where: str) -> float:
    if name not in values:
        raise ValueError(f"{where} lacks <{name}> (has {', '.join(values)})")
    try:
        return float(values[name])
    except ValueError:
        raise ValueError(f"{where}: <{name}> {values[name]!r} is not a number") from None


def scene_record(element: ET.Element, where: str) -> dict[str, Any]:
    """One ``<SyntheticScene>`` -> the scene fields of every video rendered in it."""
    values = _children(element, where)
    missing = [n for n in ("terrain", "target", "lightingParameters", "cameraParameters") if n not in values]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    light = _children(element.find("lightingParameters"), where)
    camera = _children(element.find("cameraParameters"), where)
    animate = _bool(camera.get("animate", "false"))  # only orbital scenes carry it
    return {
        "terrain": values["terrain"],
        "avatar": values["target"],
        "sun_temperature_k": _number(light, "sunColorTemperature", f"{where} <lightingParameters>"),
        "camera_yaw": _number(camera, "yRotation", f"{where} <cameraParameters>"),
        "camera_distance_m": _number(camera, "distanceToTarget", f"{where} <cameraParameters>"),
        "camera_height_m": _number(camera, "height", f"{where} <cameraParameters>"),
        "camera_orbit_deg_per_s": (
            _number(camera, "degreesPerSecond", f"{where} <cameraParameters>") if animate else 0.0
        ),
    }


def parse_scenes(data: bytes, source: str) -> list[dict[str, Any]]:
    """A ``<SyntheticDataset>`` -> the scene fields of each ``<SyntheticScene>``, in scene order."""
    root = read_xml(data, source)
    if root.tag != "SyntheticDataset":
        raise ValueError(f"{source}: root is <{root.tag}>; expected <SyntheticDataset>")
    scenes = list(_only(root, "scenes", source))
    if not scenes or any(s.tag != "SyntheticScene" for s in scenes):
        raise ValueError(f"{source}: <scenes> must hold <SyntheticScene> records only")
    return [scene_record(s, f"{source}: <SyntheticScene> {i}") for i, s in enumerate(scenes)]
