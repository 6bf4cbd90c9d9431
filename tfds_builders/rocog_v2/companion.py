"""The ``<stem>.xml`` record next to each synthetic video: gesture start/end time and repetitions.

Its schema is unconfirmed (rocog_v2.md §5.3, open question 4), so fields are found by name: the first
element (or attribute) in document order whose name holds the word "start" / "end" and whose value
parses as a float, preferring names that also hold "gesture"; names split into words at camelCase
humps and non-letters ("gestureStartTime", "start_time"), so "gender" or "blendWeight" never count
as "end". Only if no name has the word is a plain substring accepted. ``repetitions`` is the first
integer-valued name containing "repetition" (the playlists call it ``numberOfRepetitions``).

The files declare ``encoding="utf-16"`` but hold UTF-8 bytes, which parsers reject; the declaration is
dropped and the text decoded by its actual byte-order mark (UTF-8 when there is none).
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

MISSING = -1.0  # gesture_start_s / gesture_end_s when a video has no companion XML or no such field

_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _text(data: bytes) -> str:
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    return _DECLARATION.sub("", data.decode(encoding), count=1)


def _fields(root: ET.Element) -> Iterator[tuple[str, str]]:
    """(local name, value) of every element and attribute, in document order."""
    for element in root.iter():
        yield element.tag.rsplit("}", 1)[-1], (element.text or "").strip()
        for key, value in element.attrib.items():
            yield key.rsplit("}", 1)[-1], value.strip()


def _number(value: str, kind: Callable[[str], float | int]) -> float | int | None:
    try:
        return kind(value)
    except ValueError:
        return None


def _find(fields: list[tuple[str, str]], word: str, kind: Callable[[str], float | int]) -> float | int | None:
    def words(name: str) -> set[str]:
        return {w.lower() for w in _WORDS.findall(name)}

    matchers = (
        lambda name: {word, "gesture"} <= words(name),
        lambda name: word in words(name),
        lambda name: word in name.lower(),
    )
    for matches in matchers:
        for name, value in fields:
            if matches(name) and (number := _number(value, kind)) is not None:
                return number
    return None


def parse_companion(data: bytes, source: str) -> dict[str, float | int | None]:
    """XML bytes -> {"gesture_start_s", "gesture_end_s" (MISSING if absent), "repetitions" (or None)}."""
    try:
        root = ET.fromstring(_text(data))
    except (UnicodeDecodeError, ET.ParseError) as e:
        raise ValueError(f"{source}: unreadable companion XML ({e})") from None
    fields = list(_fields(root))
    start, end = _find(fields, "start", float), _find(fields, "end", float)
    reps = next(
        (n for name, v in fields if "repetition" in name.lower() and (n := _number(v, int)) is not None), None
    )
    return {
        "gesture_start_s": MISSING if start is None else float(start),
        "gesture_end_s": MISSING if end is None else float(end),
        "repetitions": reps,
    }
