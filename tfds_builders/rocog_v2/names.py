"""RoCoG-v2 class map, annotation lists and file names (the release's class_dict.json and annotations/).

Everything here is pure parsing: no file system access, so each rule is testable on strings. Every
violation raises ``ValueError`` naming the offending file (and line), because a silently mislabelled
video is worse than a stopped build.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from typing import Any

from gesture_jax.data.classes import ROCOG_V2_CLASSES

# class_dict.json order (never alphabetical); the builder's ClassLabel is fixed to it.
CLASS_NAMES: tuple[str, ...] = ROCOG_V2_CLASSES

_REAL_RE = re.compile(
    r"^(?P<subject>S\d{2}b?)_(?P<distance>\d+)m_(?P<view>ground|hover)(?:_(?P<take>\d))?"
    r"_label(?P<label>[1-7])_start(?P<start>\d+)\.mp4$"
)
_STAMP = r"_\d+_\d+_\d{4}_\d+_\d+_\d+\.mp4$"  # render time: day_month_year_hour_min_sec
_ANIMATED_RE = re.compile(r"^Scene(?P<scene>\d+)_(?P<index>\d+)_(?P<cls>[A-Za-z]+)" + _STAMP)
_MOCAP_RE = re.compile(
    r"^Scene(?P<scene>\d+)_(?P<index>\d+)_(?P<performer>S0[12])_(?P<cls>[A-Za-z]+)"
    r"_R0(?P<reps>[1-4])_0(?P<take>[12])" + _STAMP
)


@dataclasses.dataclass(frozen=True)
class ListEntry:
    path: str  # root-relative, exactly as in the list
    label: int
    line: int  # 1-based line number in its list (0 for scanned folders)


def parse_class_dict(text: str, source: str) -> tuple[str, ...]:
    """class_dict.json as {"0": "Advance", ...} or {"Advance": 0, ...} -> names by index.

    The builder's ClassLabel is declared before any file is read, so the file must agree with it.
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source}: not valid JSON ({e})") from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{source}: expected a JSON object mapping class indices to names")
    by_index: dict[int, str] = {}
    for key, value in raw.items():
        index, name = (key, value) if isinstance(value, str) else (value, key)
        try:
            index = int(index)
        except (TypeError, ValueError):
            raise ValueError(f"{source}: entry {key!r}: {value!r} has no integer class index") from None
        if index in by_index:
            raise ValueError(f"{source}: class index {index} appears twice")
        by_index[index] = name
    names = tuple(by_index.get(i, "") for i in range(len(by_index)))
    if sorted(by_index) != list(range(len(CLASS_NAMES))) or len(set(names)) != len(names):
        raise ValueError(f"{source}: expected a bijection onto 0..{len(CLASS_NAMES) - 1}, got {raw}")
    if names != CLASS_NAMES:
        raise ValueError(f"{source}: class order {names} differs from the builder's {CLASS_NAMES}")
    return names


def parse_list(text: str, source: str, prefix: str) -> list[ListEntry]:
    """An annotation list (``<prefix><Class>/<file>.mp4 <label>`` per line) -> entries, in order."""
    entries, seen = [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fail = functools.partial(_line_error, source, number, line)
        fields = line.split()
        if len(fields) != 2 or not fields[1].isdigit():
            raise fail("expected '<path> <label>'")
        path, label = fields[0], int(fields[1])
        if label >= len(CLASS_NAMES):
            raise fail(f"label {label} is outside 0..{len(CLASS_NAMES) - 1}")
        if not path.startswith(prefix) or path.count("/") != prefix.count("/") + 1:
            raise fail(f"expected a path '{prefix}<Class>/<file>.mp4'")
        folder = path[len(prefix) :].split("/")[0]
        if folder != CLASS_NAMES[label]:
            raise fail(f"class folder {folder!r} is not class_dict[{label}] = {CLASS_NAMES[label]!r}")
        if path in seen:
            raise fail(f"duplicate of line {seen[path]}")
        seen[path] = number
        entries.append(ListEntry(path, label, number))
    return entries


def _line_error(source: str, number: int, line: str, why: str) -> ValueError:
    return ValueError(f"{source}:{number}: {why}: {line!r}")


def real_metadata(path: str, label: int) -> dict[str, Any]:
    """``S04b_10m_ground_2_label5_start123.mp4`` -> subject, distance_m, view, take, start_frame."""
    m = _REAL_RE.match(path.rsplit("/", 1)[-1])
    if not m:
        raise ValueError(f"{path}: file name does not match the real-video pattern {_REAL_RE.pattern}")
    if int(m["label"]) != label + 1:
        raise ValueError(f"{path}: name says label{m['label']} but the list gives class index {label}")
    return {
        "subject": m["subject"],
        "distance_m": int(m["distance"]),
        "view": m["view"],
        "take": int(m["take"] or 1),
        "start_frame": int(m["start"]),
    }


def synthetic_name_fields(path: str, label: int) -> dict[str, Any]:
    """``Scene<S>_<I>_[S0<p>_]<Class>_[R0<r>_0<t>_]<stamp>.mp4`` -> what the name itself says.

    ``video_index`` is ``<I>``, the index of the video's record in its view's playlist; mocap names
    also give the performer, repetitions and take (-1 / "" for animated clips, whose records say).
    """
    name = path.rsplit("/", 1)[-1]
    mocap, animated = _MOCAP_RE.match(name), _ANIMATED_RE.match(name)
    m = mocap or animated
    if not m:
        raise ValueError(
            f"{path}: file name matches neither synthetic pattern "
            f"({_ANIMATED_RE.pattern} or {_MOCAP_RE.pattern})"
        )
    if m["cls"] != CLASS_NAMES[label]:
        raise ValueError(f"{path}: name says class {m['cls']!r} but the label is {CLASS_NAMES[label]!r}")
    return {
        "scene": int(m["scene"]),
        "video_index": int(m["index"]),
        "gesture": m["cls"],
        "visual_realism": "Mocap" if mocap else "Animated",
        "performer": m["performer"] if mocap else "",
        "repetitions": int(m["reps"]) if mocap else -1,
        "take": int(m["take"]) if mocap else -1,
    }
