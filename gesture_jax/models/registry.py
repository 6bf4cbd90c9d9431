"""Encoders by name: family, size, and the input protocol the family was evaluated with.

The registry is the mechanism; the entries live in `gesture_jax.models.sizes`, one module per family
module. A family names the module that builds it (``gesture_jax.models.<module>``, with the members of
the contract in `gesture_jax.models.family`) and the checkpoint format it ports from; an encoder is a
family plus a size plus a `VideoSpec`. Adding a size is one `register` line in its family's file.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gesture_jax.data.spec import VideoSpec


@dataclasses.dataclass(frozen=True)
class Family:
    name: str  # also the `gesture_jax.convert --family` name
    module: str  # gesture_jax.models.<module>
    config_defaults: dict[str, Any]  # fields every size of the family shares
    spec: VideoSpec  # the family's official evaluation protocol
    # The reference checkpoint format `gesture_jax.convert` reads for it ("" = none: random init or
    # weights made here): "torch" = a .pth (torch.save) or .safetensors state dict, "hf" = a transformers
    # save_pretrained folder, "videoprism_npz" = the official VideoPrism .npz (gesture_jax.ports.sources).
    checkpoint: str = ""


FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Adds a family (its module, defaults, protocol, checkpoint format); each is registered once."""
    if family.name in FAMILIES:
        raise ValueError(f"encoder family {family.name!r} is registered twice")
    FAMILIES[family.name] = family
    return family


@dataclasses.dataclass(frozen=True)
class EncoderInfo:
    name: str
    family: str  # a key of FAMILIES
    model_config: dict[str, Any]  # the family's config_defaults are already merged in
    spec: VideoSpec
    description: str = ""
    # A converted model directory shipped in this package (relative to gesture_jax/models/), loaded when
    # a config names no checkpoint; "" = random init from the config's seed.
    weights: str = ""


_ENCODERS: dict[str, EncoderInfo] = {}


def register(
    name: str,
    family: str,
    size: dict[str, Any],
    *,
    spec: VideoSpec | None = None,
    description: str = "",
    weights: str = "",
) -> EncoderInfo:
    if name in _ENCODERS:
        raise ValueError(f"encoder {name!r} is registered twice")
    fam = get_family(family)
    info = EncoderInfo(name, family, {**fam.config_defaults, **size}, spec or fam.spec, description, weights)
    _ENCODERS[name] = info
    return info


def get(name: str) -> EncoderInfo:
    try:
        return _ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; registered: {', '.join(names())}") from None


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown encoder family {name!r}; known: {', '.join(FAMILIES)}") from None


def names() -> list[str]:
    return sorted(_ENCODERS)


def ported_families() -> list[str]:
    """The families `gesture_jax.convert` converts (those with a reference checkpoint format)."""
    return sorted(name for name, f in FAMILIES.items() if f.checkpoint)


def dataclass_from_dict(cls, fields: dict[str, Any], what: str):
    """`cls(**fields)`, failing with the unknown field names instead of a bare TypeError."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown {what} config field(s) {unknown}; expected some of {sorted(known)}")
    return cls(**fields)


# Every family's record and public sizes, one module each (a module registers what it defines).
from gesture_jax.models import sizes  # noqa: E402,F401
