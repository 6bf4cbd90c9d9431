"""One key map per checkpoint family: official PyTorch state-dict names ↔ our NNX parameter paths.

A map is data: rules pairing a PyTorch name template with our path template (``{i}`` stands for a block
index) and a transform, plus the wrapper prefixes to strip and the keys dropped by rule (pre-training
decoders). Rules work both ways, so an error about a parameter the checkpoint lacks names the PyTorch key.
PyTorch ``Linear`` weights are [out, in], NNX kernels [in, out]; ``Conv3d`` weights are
[O, I, t, kh, kw], NNX kernels [t, kh, kw, I, O].
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

import numpy as np

Transform = Callable[[np.ndarray], np.ndarray]


def _linear(w: np.ndarray) -> np.ndarray:
    return w.T


def _conv3d(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 4, 1, 0)


def _same(w: np.ndarray) -> np.ndarray:
    return w


def _template_regex(template: str) -> re.Pattern:
    return re.compile(re.escape(template).replace(r"\{i\}", r"(?P<i>\d+)"))


@dataclasses.dataclass(frozen=True)
class Rule:
    torch: str  # e.g. "blocks.{i}.attn.qkv.weight"
    ours: str  # e.g. "blocks.{i}.attn.qkv.kernel"
    transform: Transform = _same

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


def _norm(torch: str, ours: str) -> list[Rule]:
    return [Rule(f"{torch}.weight", f"{ours}.scale"), Rule(f"{torch}.bias", f"{ours}.bias")]


def _dense(torch: str, ours: str) -> list[Rule]:
    return [Rule(f"{torch}.weight", f"{ours}.kernel", _linear), Rule(f"{torch}.bias", f"{ours}.bias")]


VIT = KeyMap(
    rules=(
        Rule("patch_embed.proj.weight", "patch_embed.proj.kernel", _conv3d),
        Rule("patch_embed.proj.bias", "patch_embed.proj.bias"),
        Rule("pos_embed", "pos_embed"),
        *_norm("blocks.{i}.norm1", "blocks.{i}.norm1"),
        *_norm("blocks.{i}.norm2", "blocks.{i}.norm2"),
        Rule("blocks.{i}.attn.qkv.weight", "blocks.{i}.attn.qkv.kernel", _linear),
        Rule("blocks.{i}.attn.q_bias", "blocks.{i}.attn.q_bias"),
        Rule("blocks.{i}.attn.v_bias", "blocks.{i}.attn.v_bias"),
        *_dense("blocks.{i}.attn.proj", "blocks.{i}.attn.proj"),
        *_dense("blocks.{i}.mlp.fc1", "blocks.{i}.mlp.fc1"),
        *_dense("blocks.{i}.mlp.fc2", "blocks.{i}.mlp.fc2"),
        Rule("blocks.{i}.gamma_1", "blocks.{i}.gamma_1"),
        Rule("blocks.{i}.gamma_2", "blocks.{i}.gamma_2"),
        *_norm("fc_norm", "fc_norm"),
        *_norm("norm", "norm"),
        *_dense("head", "head"),
    ),
    # VideoMAE and UMT pre-training files keep their decoders beside the encoder.
    dropped=(r"decoder\..*", r"encoder_to_decoder\..*", r"mask_token", r"clip_decoder\..*"),
)


def _clip_blocks(torch: str, ours: str) -> list[Rule]:
    t, o = f"{torch}.transformer.resblocks.{{i}}", f"{ours}.blocks.{{i}}"
    return [
        Rule(f"{t}.attn.in_proj_weight", f"{o}.attn.qkv.kernel", _linear),
        Rule(f"{t}.attn.in_proj_bias", f"{o}.attn.qkv.bias"),
        *_dense(f"{t}.attn.out_proj", f"{o}.attn.proj"),
        *_norm(f"{t}.ln_1", f"{o}.norm1"),
        *_norm(f"{t}.ln_2", f"{o}.norm2"),
        *_dense(f"{t}.mlp.c_fc", f"{o}.mlp.fc1"),
        *_dense(f"{t}.mlp.c_proj", f"{o}.mlp.fc2"),
    ]


VICLIP = KeyMap(
    rules=(
        Rule("vision_encoder.conv1.weight", "vision.conv1.proj.kernel", _conv3d),
        *(
            Rule(f"vision_encoder.{name}", f"vision.{name}")
            for name in ("class_embedding", "positional_embedding", "temporal_positional_embedding", "proj")
        ),
        *_norm("vision_encoder.ln_pre", "vision.ln_pre"),
        *_norm("vision_encoder.ln_post", "vision.ln_post"),
        *_clip_blocks("vision_encoder", "vision"),
        Rule("text_encoder.token_embedding.weight", "text.token_embedding.embedding"),
        Rule("text_encoder.positional_embedding", "text.positional_embedding"),
        Rule("text_encoder.text_projection", "text.text_projection"),
        *_norm("text_encoder.ln_final", "text.ln_final"),
        *_clip_blocks("text_encoder", "text"),
        Rule("temp", "temp"),
    ),
)

KEYMAPS = {"umt": VIT, "videomae_v1": VIT, "videomae_v2": VIT, "viclip": VICLIP}
