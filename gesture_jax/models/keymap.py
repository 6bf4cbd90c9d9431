"""Checkpoint key maps: a reference checkpoint's tensor names ↔ our NNX parameter paths.

A map is data: rules pairing a checkpoint name template with our path template (``{i}`` stands for a
block index) and a transform, plus the wrapper prefixes to strip and the keys dropped by rule
(pre-training decoders). Rules work both ways, so an error about a parameter the checkpoint lacks names
the checkpoint's key. Each family module defines its ``KEYMAP`` with these (`gesture_jax.models.family`);
the ports apply it. PyTorch ``Linear`` weights are [out, in], NNX kernels [in, out]; ``Conv3d`` weights
are [O, I, t, kh, kw], NNX kernels [t, kh, kw, I, O].
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

import numpy as np

Transform = Callable[[np.ndarray], np.ndarray]


def linear(w: np.ndarray) -> np.ndarray:
    return w.T


def conv3d(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 4, 1, 0)


def same(w: np.ndarray) -> np.ndarray:
    return w


def _template_regex(template: str) -> re.Pattern:
    return re.compile(re.escape(template).replace(r"\{i\}", r"(?P<i>\d+)"))


@dataclasses.dataclass(frozen=True)
class Rule:
    torch: str  # e.g. "blocks.{i}.attn.qkv.weight"
    ours: str  # e.g. "blocks.{i}.attn.qkv.kernel"
    transform: Transform = same

    def forward(self, key: str) -> str | None:
        match = _template_regex(self.torch).fullmatch(key)
        return self.ours.format(**match.groupdict()) if match else None

    def backward(self, path: str) -> str | None:
        match = _template_regex(self.ours).fullmatch(path)
        return self.torch.format(**match.groupdict()) if match else None


# What training code puts in front of every key: DDP and DeepSpeed (``module.``), torch.compile
# (``_orig_mod.``), wrappers (``model.``, ``backbone.``) and pre-training models (``encoder.``), in any
# nesting, e.g. ``module._orig_mod.encoder.blocks.0...``.
WRAPPER_PREFIXES = ("module.", "model.", "backbone.", "encoder.", "_orig_mod.")


@dataclasses.dataclass(frozen=True)
class KeyMap:
    rules: tuple[Rule, ...]
    prefixes: tuple[str, ...] = WRAPPER_PREFIXES  # stripped before matching
    dropped: tuple[str, ...] = ()  # regexes of (stripped) keys dropped by rule

    def strip(self, key: str) -> str:
        """`key` without wrapper prefixes, however nested. A key the map already knows is left as it is,
        so a real first component is never taken for a prefix."""
        while not self.knows(key):
            prefix = next((p for p in self.prefixes if key.startswith(p)), None)
            if prefix is None:
                break
            key = key[len(prefix) :]
        return key

    def knows(self, key: str) -> bool:
        return self.is_dropped(key) or self.to_ours(key) is not None

    def is_dropped(self, key: str) -> bool:
        return any(re.fullmatch(p, key) for p in self.dropped)

    def to_ours(self, key: str) -> tuple[str, Transform] | None:
        for rule in self.rules:
            path = rule.forward(key)
            if path is not None:
                return path, rule.transform
        return None

    def to_torch(self, path: str) -> str:
        for rule in self.rules:
            key = rule.backward(path)
            if key is not None:
                return key
        return path


def norm(torch: str, ours: str) -> list[Rule]:
    """A LayerNorm: ``weight``/``bias`` → ``scale``/``bias``."""
    return [Rule(f"{torch}.weight", f"{ours}.scale"), Rule(f"{torch}.bias", f"{ours}.bias")]


def dense(torch: str, ours: str) -> list[Rule]:
    """A Linear layer: ``weight`` (transposed) / ``bias`` → ``kernel``/``bias``."""
    return [Rule(f"{torch}.weight", f"{ours}.kernel", linear), Rule(f"{torch}.bias", f"{ours}.bias")]


def layout_shape(shape: tuple[int, ...], transform: Transform) -> list[int]:
    """A parameter's shape in the checkpoint's layout, so both sides of an error message compare."""
    probe = np.empty(shape, np.uint8)
    if transform is linear:
        return list(probe.T.shape)
    if transform is conv3d:
        return list(probe.transpose(4, 3, 0, 1, 2).shape)
    return list(shape)
