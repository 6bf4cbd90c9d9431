"""The optimiser: AdamW with layer-wise learning-rate decay, warmup + cosine, weight-decay masks,
gradient clipping and accumulation, and which parameters train at all.

Strategies: ``full`` trains everything, ``linear_probe`` only the head, ``last_blocks`` the head, the
encoder's final norm and its last N blocks. Frozen parameters get no optimiser state at all.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import optax

STRATEGIES = ("full", "linear_probe", "last_blocks")
# Tables and tokens that are embeddings, not weights: no weight decay (as the references' no_weight_decay).
_NO_DECAY_NAMES = {"pos_embed", "positional_embedding", "temporal_positional_embedding", "class_embedding"}


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-6
    warmup_steps: int = 0
    total_steps: int = 1000
    weight_decay: float = 0.05
    layer_decay: float = 0.75  # lr of depth d: decay^(num_layers - 1 - d); 1.0 turns it off
    clip_norm: float = 1.0  # 0 turns clipping off
    accum_steps: int = 1  # gradients averaged over this many micro-steps per update
    b1: float = 0.9
    b2: float = 0.999


def schedule(config: OptimConfig) -> optax.Schedule:
    """Linear warmup from 0 to the peak, then cosine down to `min_learning_rate` at `total_steps`."""
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.learning_rate,
        warmup_steps=config.warmup_steps,
        decay_steps=max(config.total_steps, config.warmup_steps + 1),
        end_value=config.min_learning_rate,
    )


def trainable(path: tuple, depth: int | None, *, strategy: str, last_blocks: int, layers: int) -> bool:
    """Whether the parameter at `path` (inside a Classifier: "encoder"/"head" first) trains.

    `depth` is the encoder's layer index of the parameter (None for the head, -1 for never-trained parts
    such as ViCLIP's text tower); `layers` the encoder's layer count (embeddings + blocks + top).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown fine-tuning strategy {strategy!r}; expected one of {STRATEGIES}")
    if path[0] == "head":
        return True
    if depth == -1 or strategy == "linear_probe":
        return False
    if strategy == "last_blocks":
        return depth >= layers - 1 - last_blocks  # the top (norm) and the last N blocks
    return True


def decays(path: tuple, value: Any) -> bool:
    """Weight decay applies to matrices and kernels, not biases, norms, position tables or tokens."""
    return np.ndim(value) >= 2 and not (set(map(str, path)) & _NO_DECAY_NAMES)


def make(
    config: OptimConfig, params: dict[str, Any], depth_of: Any, *, layers: int
) -> optax.GradientTransformation:
    """The optimiser over the trainable parameters {"encoder/blocks/0/...": array} (frozen ones are not
    passed at all, so they get no Adam state and no gradient); `depth_of(path)` gives an encoder
    parameter's layer index for the layer-wise decay (the head always gets the full rate)."""
    scale, decay_mask = {}, {}
    for name, value in params.items():
        path = _path(name)
        depth = layers - 1 if path[0] == "head" else max(depth_of(path[1:]), 0)
        scale[name] = config.layer_decay ** (layers - 1 - depth)
        decay_mask[name] = decays(path, value)
    tx = optax.chain(
        optax.clip_by_global_norm(config.clip_norm) if config.clip_norm > 0 else optax.identity(),
        optax.scale_by_adam(b1=config.b1, b2=config.b2),
        optax.add_decayed_weights(config.weight_decay, mask=decay_mask),
        _scale_by_tree(scale),
        optax.scale_by_learning_rate(schedule(config)),
    )
    if config.accum_steps > 1:
        tx = optax.MultiSteps(tx, every_k_schedule=config.accum_steps)
    return tx


def _scale_by_tree(scales: dict[str, float]) -> optax.GradientTransformation:
    """Multiplies each update by a fixed per-parameter factor (here: the layer-wise lr decay)."""

    def update(updates, state, params=None):
        del params
        return {k: u * scales[k] for k, u in updates.items()}, state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def _path(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in name.split("/"))
