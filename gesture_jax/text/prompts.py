"""Text prompt sets for zero-shot classification, registered by name.

A prompt set is templates (strings with one ``{}``) × texts per class (one or more per class name). Every
template is filled with every text of a class; `analysis.zeroshot` embeds them all and ensembles them
per class, CLIP-style. Texts are keyed by the dataset's class names (RoCoG-v2's here; the toy gestures
share them), so a set is checked against the classes of the data it is used on.

    prompts.get("names").prompts(("Halt", "Rally"))  # [["Halt"], ["Rally"]]

A user's own set comes from a file (`load_file`): JSON ``{"templates": [...], "texts": {class: text or
[texts]}, "description": ...}``, or text with one class per line, ``Halt: a raised hand | a stop sign``,
and optional ``templates: a video of {} | a person doing {}`` and ``description: ...`` lines.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from collections.abc import Mapping, Sequence

from gesture_jax.data.classes import ROCOG_V2_CLASSES  # re-exported: the classes every set covers


@dataclasses.dataclass(frozen=True)
class PromptSet:
    name: str
    templates: tuple[str, ...]
    texts: Mapping[str, tuple[str, ...]]  # class name → one or more texts
    description: str = ""
    lines: Mapping[str, int] = dataclasses.field(
        default_factory=dict, compare=False
    )  # a file's: class → line

    def __post_init__(self):
        bad = [t for t in self.templates if t.count("{}") != 1]
        if not self.templates or bad:
            raise ValueError(f"prompt set {self.name!r}: every template needs exactly one '{{}}', got {bad}")
        empty = [c for c, texts in self.texts.items() if not texts]
        if empty:
            raise ValueError(f"prompt set {self.name!r}: no texts for {empty}")

    def prompts(self, class_names: Sequence[str]) -> list[list[str]]:
        """Per class, in `class_names` order: every template filled with every text of the class."""
        missing = [c for c in class_names if c not in self.texts]
        if missing:
            raise ValueError(
                f"prompt set {self.name!r} has no texts for class(es) {missing}; it covers {list(self.texts)}"
            )
        return [[t.replace("{}", x) for x in self.texts[c] for t in self.templates] for c in class_names]

    def single_prompts(self, class_names: Sequence[str]) -> list[tuple[str, list[str]]]:
        """The set taken apart: (label, one text per class) for each template × text position; a class
        with fewer texts than the most cycles through its own. A CLIP-style ensemble averages these."""
        self.prompts(class_names)  # the same error for a missing class
        width = max(len(self.texts[c]) for c in class_names)
        out = []
        for t, template in enumerate(self.templates):
            for j in range(width):
                texts = [template.replace("{}", self.texts[c][j % len(self.texts[c])]) for c in class_names]
                label = f"template {t + 1}" * (len(self.templates) > 1)
                label += (", " * bool(label) + f"text {j + 1}") * (width > 1)
                out.append((label or "the only prompt", texts))
        return out


def load_file(path: str, class_names: Sequence[str] = ()) -> PromptSet:
    """A prompt set from a user's file (see the module docstring), named after the file; with
    `class_names`, every class the file names must be one of them (a typo is an error, not a class
    without texts)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"prompt file {path} does not exist")
    name, lines = os.path.splitext(os.path.basename(path))[0], {}  # lines: a text file's, class → line
    with open(path, encoding="utf-8") as f:
        content = f.read()
    if path.endswith(".json"):
        try:
            data = json.loads(content)
        except json.JSONDecodeError as error:
            raise ValueError(f"prompt file {path}: not valid JSON ({error})") from None
        unknown = (
            set(data) - {"name", "templates", "texts", "description"} if isinstance(data, dict) else None
        )
        if unknown is None or unknown or not isinstance(data.get("texts"), dict):
            raise ValueError(
                f'prompt file {path}: expected an object with "texts" {{class: text or [texts]}} and '
                f'optional "templates", "name", "description"; got {unknown or type(data).__name__}'
            )
        texts = {c: (t,) if isinstance(t, str) else tuple(t) for c, t in data["texts"].items()}
        templates, description = tuple(data.get("templates", ("{}",))), data.get("description", "")
        name = data.get("name", name)
    else:
        texts, templates, description = {}, ("{}",), ""
        for number, line in enumerate(content.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition(":")
            if not sep or not value.strip():
                raise ValueError(
                    f"prompt file {path}, line {number}: expected 'Class: text | text', got {line!r}"
                )
            parts = tuple(p.strip() for p in value.split("|") if p.strip())
            key = key.strip()
            if key == "templates":
                templates = parts
            elif key == "description":
                description = value.strip()
            elif key in texts:
                raise ValueError(f"prompt file {path}, line {number}: class {key!r} appears twice")
            else:
                texts[key], lines[key] = parts, number
    prompt_set = PromptSet(name, templates, texts, description or f"from {path}", lines)
    if class_names:
        check_known(prompt_set, class_names, f"prompt file {path}")
    return prompt_set


def check_known(prompt_set: PromptSet, class_names: Sequence[str], source: str) -> None:
    """An error naming `source` when the set has texts for a class that is not one of `class_names` (a
    typo would otherwise surface as some other class missing its texts)."""
    unknown = [c for c in prompt_set.texts if c not in class_names]
    if unknown:
        first = unknown[0]
        where = f", line {prompt_set.lines[first]}" if first in prompt_set.lines else ""
        close = difflib.get_close_matches(first, list(class_names), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        more = f"; also not classes: {unknown[1:]}" if len(unknown) > 1 else ""
        raise ValueError(
            f"{source}{where}: {first!r} is not a class here{hint}{more}; the classes are {list(class_names)}"
        )


_SETS: dict[str, PromptSet] = {}


def register(prompt_set: PromptSet) -> PromptSet:
    if prompt_set.name in _SETS:
        raise ValueError(f"prompt set {prompt_set.name!r} is registered twice")
    _SETS[prompt_set.name] = prompt_set
    return prompt_set


def get(name: str) -> PromptSet:
    try:
        return _SETS[name]
    except KeyError:
        raise ValueError(f"unknown prompt set {name!r}; registered: {', '.join(names())}") from None


def names() -> list[str]:
    """Registered prompt sets, in registration order."""
    return list(_SETS)


def spaced(class_name: str) -> str:
    """'MoveInReverse' → 'move in reverse'."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", class_name).lower()


_SPACED = {c: (spaced(c),) for c in ROCOG_V2_CLASSES}

# What each arm motion looks like, after the Army field manual's descriptions of each signal, reworded so the
# text tower sees plain movement words. Each stays well under ViCLIP's 32-token context.
_DESCRIPTIONS = {
    "Advance": "a person swings one arm from low behind the body up over the head and forward to point ahead",
    "Attention": "a person holds one arm out sideways above the shoulder and waves it in toward the head",
    "Rally": "a person raises one arm straight overhead and circles the hand in wide loops above the head",
    "MoveForward": "a person lifts both arms in front at shoulder height and bends the forearms back and out",
    "Halt": "a person raises one arm straight up above the head, palm to the front, and holds it still",
    "FollowMe": "a person points one arm at the viewer, then swings it forward and back toward the body",
    "MoveInReverse": "a person holds both arms out in front, palms outward, and pushes them away repeatedly",
}

# Two more wordings of each motion (whole clauses, so the templates below read as sentences).
_DESCRIPTION_VARIANTS = {
    "Advance": (
        "someone sweeps an arm up from behind the body, over the head, and points it forward",
        "a soldier swings one arm overhead and ends pointing straight ahead",
    ),
    "Attention": (
        "someone waves an arm held out to the side in toward the head several times",
        "a soldier stretches one arm sideways and flaps it toward the head and away",
    ),
    "Rally": (
        "someone twirls a raised arm in big circles over the head",
        "a soldier holds a hand high and swings it round and round above the head",
    ),
    "MoveForward": (
        "someone raises both arms to shoulder level and beckons with both forearms toward the head",
        "a soldier holds both arms up in front and folds the forearms in and out again and again",
    ),
    "Halt": (
        "someone holds one hand high above the head, palm forward, without moving",
        "a soldier stands still with one arm raised straight up",
    ),
    "FollowMe": (
        "someone points an arm forward, then swings it back toward the chest, beckoning to follow",
        "a soldier beckons with one arm, pointing it out and pulling it back toward the body",
    ),
    "MoveInReverse": (
        "someone pushes both open palms away from the chest again and again at shoulder height",
        "a soldier repeatedly shoves both arms forward with the palms facing out",
    ),
}

register(
    PromptSet(
        "names",
        ("{}",),
        {c: (c,) for c in ROCOG_V2_CLASSES},
        "the class string as is, no template: the official ViCLIP zero-shot demo",
    )
)
register(PromptSet("names_spaced", ("{}",), _SPACED, "CamelCase split and lower-cased"))
register(
    PromptSet(
        "names_templates",
        (
            "a person making the {} arm signal",
            "a video of someone giving the {} hand signal",
            "a soldier signaling {} with one or both arms",
            "a person gesturing {} with their arms and hands",
            "a military arm and hand signal meaning {}",
            "a clip of a person performing the {} gesture",
        ),
        _SPACED,
        "spaced names in six gesture-video templates",
    )
)
register(
    PromptSet(
        "descriptions",
        ("{}",),
        {c: (d,) for c, d in _DESCRIPTIONS.items()},
        "one written description of the arm motion per class",
    )
)
register(
    PromptSet(
        "descriptions_templates",
        ("{}", "a video in which {}"),
        {c: (d, *_DESCRIPTION_VARIANTS[c]) for c, d in _DESCRIPTIONS.items()},
        "three wordings of each motion in two templates",
    )
)
