"""Encoders by name: architecture family, its size, and the input protocol it was evaluated with.

The registry is plain data. Adding an encoder is one entry here; adding a family is one module in
``gesture_jax.models`` exposing ``build(model_config: dict, *, dtype, rngs)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gesture_jax.data.spec import VideoSpec


@dataclasses.dataclass(frozen=True)
class EncoderInfo:
    name: str
    family: str  # module of gesture_jax.models that builds it
    model_config: dict[str, Any]
    spec: VideoSpec
    description: str = ""


_ENCODERS: dict[str, EncoderInfo] = {}


def register(info: EncoderInfo) -> EncoderInfo:
    if info.name in _ENCODERS:
        raise ValueError(f"encoder {info.name!r} is registered twice")
    _ENCODERS[info.name] = info
    return info


def get(name: str) -> EncoderInfo:
    try:
        return _ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; registered: {', '.join(names())}") from None


def names() -> list[str]:
    return sorted(_ENCODERS)


# The toy encoder: a VideoMAE-style ViT small enough for CPU demos and tests, random-initialised.
register(
    EncoderInfo(
        name="toy-vit",
        family="vit",
        model_config=dict(
            img_size=48,
            patch_size=8,
            num_frames=8,
            tubelet_size=2,
            embed_dim=96,
            depth=3,
            num_heads=4,
            mlp_ratio=4.0,
            num_classes=7,
        ),
        spec=VideoSpec(
            num_frames=8, sampler="tsn", resize="short_side", resize_size=48, crop="center", crop_size=48
        ),
        description="tiny VideoMAE-style ViT (8×48², tubelet 2, patch 8, D 96, depth 3) for CPU demos",
    )
)
