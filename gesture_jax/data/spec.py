"""How an encoder wants its video: frames, sampler, resize/crop and normalisation.

Every registered encoder carries one `VideoSpec` (the protocol its family was evaluated with), so a
config that names an encoder gets the matching input pipeline; configs may override single fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from gesture_jax.data import sampling
from gesture_jax.data.transforms import IMAGENET_MEAN, IMAGENET_STD

_LENGTH_PARAMS = frozenset({"num_frames", "clip_len", "num_segment"})  # the rules' names for T


@dataclasses.dataclass(frozen=True)
class VideoSpec:
    num_frames: int = 8
    sampler: str = "tsn"  # a rule of gesture_jax.data.sampling
    sampler_params: tuple[tuple[str, Any], ...] = ()  # extra keyword arguments of that rule
    num_clips: int = 1  # temporal views; clip c passes clip=c to the sampler when > 1
    # "short_side" | "squash" | "none", cv2 bilinear; "short_side_pil_bicubic" | "squash_pil_bilinear" |
    # "squash_pil_lanczos" for references that resize with Pillow (data/transforms.py)
    resize: str = "short_side"
    resize_size: int = 224
    # "center" (half-to-even offsets, the video references) | "center_floor" (transformers' image
    # processors) | "three" (3 crops along the long side) | "none"
    crop: str = "center"
    crop_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def num_crops(self) -> int:
        return 3 if self.crop == "three" else 1

    @property
    def num_views(self) -> int:
        return self.num_clips * self.num_crops

    def sampler_kwargs(self, clip: int) -> dict[str, Any]:
        """Keyword arguments of the sampler for temporal view `clip`.

        `sampler_params` wins; otherwise the clip length comes from `num_frames` (under whatever name the
        rule gives it), the number of temporal views from `num_clips`, and the view index from `clip`.
        """
        wanted = sampling.rule_params(self.sampler)
        # Registered params of another rule (e.g. a dense rate after --config.encoder.spec.sampler=...)
        # do not apply to this one.
        kwargs = {k: v for k, v in self.sampler_params if k in wanted}
        for name in _LENGTH_PARAMS & wanted:
            kwargs.setdefault(name, self.num_frames)
        if "test_num_segment" in wanted:
            kwargs.setdefault("test_num_segment", self.num_clips)
        if "clip" in wanted:
            kwargs["clip"] = clip
        return kwargs

    def replace(self, **overrides: Any) -> "VideoSpec":
        """A copy with some fields changed; unknown field names fail loudly."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown VideoSpec field(s) {unknown}; expected some of {sorted(known)}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sampler_params"] = dict(self.sampler_params)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "VideoSpec":
        d = dict(d)
        d["sampler_params"] = tuple(sorted(dict(d.get("sampler_params", {})).items()))
        for key in ("mean", "std"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)
