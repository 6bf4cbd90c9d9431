"""The encoder-family contract: what one module of `gesture_jax.models` provides for a family.

A family is a registry record (`registry.Family`: its name, the module below, the config fields all its
sizes share, its official input protocol) plus one module, ``gesture_jax.models.<module>``, with the
members `FamilyModule` lists. Everything else (creating and loading models, extraction, fine-tuning
with layer decay, conversion, verification) goes through these members only, so adding a family is:

1. a module here with those members (its ``KEYMAP`` and ``checkpoint_facts`` make it convertible);
2. its `registry.Family` record and one `registry.register` line per public size (name, size, protocol);
3. a test that converts its reference-format fixture and matches the reference outputs.

The converted weights live in the directory format of `gesture_jax.models.model_dir`. The ports
(`gesture_jax.ports`) import this package, never the reverse.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import Any, Protocol

import numpy as np
from flax import nnx

from gesture_jax.models import keymap
from gesture_jax.text.tokenizers import TOKENIZERS


class FamilyModule(Protocol):
    """The members of a family module (a module satisfies it structurally; `check` verifies it)."""

    CONFIG_CLASS: type  # a dataclass of every model_config field (sizes, geometry, options)

    def build(
        self, model_config: dict, *, dtype: Any, attention_impl: str | None, rngs: nnx.Rngs
    ) -> nnx.Module:
        """The model, randomly initialised. It has ``features(video) -> [B, D]`` on ``[B, T, H, W, 3]``
        float32 preprocessed as the family's spec says (the feature every probe and the cache use),
        ``tokens(video, layers=None)``: the final tokens ``[B, N, D]`` that `features` pools, or with block
        indices those blocks' outputs ``[len(layers), B, N, D]`` as the reference's hidden states give
        them (a family whose reference defines none refuses, saying so), ``token_layout(video_shape)``
        (where those tokens sit: `token_layout.TokenLayout`, which pooled token stores need), and a family
        with a text tower has ``encode_text(token_ids, ...)``."""

    def buffers(self, model_config: dict) -> dict[str, np.ndarray]:
        """{dotted path: array} of the derived, non-trained variables a checkpoint does not store."""

    def adapt_params(self, params: dict, old: dict, new: dict) -> dict:
        """Stored parameters for another model_config (another frame count), by the reference's rule; an
        error naming why when the reference has none."""

    def layer_index(self, path: tuple, model_config: dict) -> int:
        """A parameter's depth for layer-wise learning-rate decay: 0 embeddings … num_layers − 1 the
        top; −1 for parameters never fine-tuned (a text tower)."""

    def num_layers(self, model_config: dict) -> int: ...

    # The checkpoint side (None / absent for a family without a port, such as the toy encoder's
    # random init): reference checkpoint names ↔ parameter paths, and what a file says about geometry.
    KEYMAP: keymap.KeyMap | None

    def checkpoint_facts(self, sd: dict[str, np.ndarray], config: dict, drop_head: bool) -> dict:
        """`config` completed from the checkpoint's own tensors (head size, pooling, stored tables)."""


SCORES = ("softmax", "sigmoid")
VOCABULARIES = ("clip_merges", "checkpoint_folder", "")


@dataclasses.dataclass(frozen=True)
class TextTower:
    """A family's text side, as its reference uses it for zero-shot (the module's ``TEXT``).

    `tokenizer`: how prompts become ids (a name of `text.tokenizers.TOKENIZERS`). `context_length`:
    tokens per prompt, None for the model config's ``context_length``. `vocabulary`: where the
    tokenizer's vocabulary is found when a run names none: ``clip_merges`` (OpenAI's merges file,
    `text.clip_bpe`'s lookup), ``checkpoint_folder`` (the tokenizer files of the folder the checkpoint
    was converted from), ``""`` (nowhere: it must be named). `vocab_field`: the model config field
    holding the embedding table's size (ids past it are refused). `scores`: ``softmax`` of a fixed
    scale · cosine (CLIP, VideoPrism's colab), or ``sigmoid`` of cosine · exp(logit_scale) + logit_bias
    with the model's learned calibration (SigLIP)."""

    tokenizer: str
    scores: str
    context_length: int | None = None
    vocabulary: str = ""
    vocab_field: str = "vocab_size"

    def __post_init__(self):
        known = self.tokenizer in TOKENIZERS and self.scores in SCORES and self.vocabulary in VOCABULARIES
        if not known:
            raise ValueError(
                f"{self}: expected a tokenizer of {tuple(TOKENIZERS)}, scores of {SCORES}, "
                f"vocabulary of {VOCABULARIES}"
            )

    def context(self, model: nnx.Module) -> int:
        return self.context_length or int(model.config.context_length)

    def vocabulary_size(self, model: nnx.Module) -> int:
        size = getattr(model.config, self.vocab_field, None)
        if not isinstance(size, int) or size <= 0:
            raise ValueError(
                f"{type(model).__name__}'s config has {self.vocab_field}={size!r}; its text tower names that "
                "field as the size of its embedding table"
            )
        return size

    def calibration(self, model: nnx.Module) -> tuple[float, float]:
        """(logit scale as stored: log of the multiplier, logit bias), learned by a ``sigmoid`` tower."""
        if self.scores != "sigmoid":
            raise ValueError(f"a {self.scores} text tower has no learned calibration")
        return float(model.logit_scale[...][0]), float(model.logit_bias[...][0])


def text_tower(module: ModuleType) -> TextTower:
    """The family module's `TextTower` (an error naming the module when it has none)."""
    tower = getattr(module, "TEXT", None)
    if not isinstance(tower, TextTower):
        raise ValueError(f"{module.__name__} has no text tower (its TEXT is {tower!r}, not a TextTower)")
    return tower


REQUIRED = ("CONFIG_CLASS", "build", "buffers", "adapt_params", "layer_index", "num_layers")
PORT = ("KEYMAP", "checkpoint_facts")  # required together, for a family with a checkpoint port
# Optional members: `reference_config(data) -> dict`, the reference constructor's arguments (a fixture's
# config JSON) as our fields; `config_from_source(config_json) -> dict`, a format that carries its own
# config (a transformers folder's config.json) as our fields; `prepare_checkpoint(tensors) -> tensors`,
# the checkpoint's tensors rewritten before the key map (e.g. separate query/key/value weights fused into
# the one projection the model has), applied alike by convert and --verify.
# `HEAD_PREFIXES`, the checkpoint names --drop_head drops (default ("head.",), the official layout's).
# `TEXT`, a `TextTower`: the family's text side for zero-shot (tokenizer, context, vocabulary, scoring).
OPTIONAL = ("reference_config", "config_from_source", "prepare_checkpoint", "HEAD_PREFIXES", "TEXT")


def check(module: ModuleType) -> None:
    """Raises naming the members `module` lacks (`REQUIRED`, and `PORT` as a pair)."""
    missing = [m for m in REQUIRED if not hasattr(module, m)]
    port = [m for m in PORT if getattr(module, m, None) is not None]
    if port and len(port) != len(PORT):
        missing += [m for m in PORT if m not in port]
    if missing:
        raise TypeError(f"family module {module.__name__} lacks {missing} (see gesture_jax.models.family)")


def block_layer_index(path: tuple, depth: int, embeddings: tuple[str, ...]) -> int:
    """The layer-decay depth of VideoMAE's ``get_num_layer_for_vit``, for a ViT whose blocks sit at
    ``blocks.<i>``: the top-level `embeddings` 0, block i → i + 1, the rest (final norms, head) depth + 1.
    A family module's `layer_index` can be this with its own embedding names."""
    if path[0] in embeddings:
        return 0
    if path[0] == "blocks":
        return int(path[1]) + 1
    return depth + 1


def has_port(module: ModuleType) -> bool:
    return getattr(module, "KEYMAP", None) is not None
