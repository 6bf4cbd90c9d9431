"""Tokenizers by name, as a family's text tower names its own (`models.family.TextTower.tokenizer`).

Each is ``tokenize(texts, vocab_path, context_length) -> (ids [N, L] int, paddings [N, L] or None)``,
matching its reference's ids; a new text tower with a new tokenizer adds one function and one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Tokenize = Callable[[Sequence[str], str, int], tuple[np.ndarray, "np.ndarray | None"]]


def _clip_bpe(texts: Sequence[str], vocab_path: str, context_length: int):
    from gesture_jax.text import clip_bpe

    return clip_bpe.clip_tokenize(list(texts), context_length=context_length, vocab_path=vocab_path), None


def _siglip(texts: Sequence[str], vocab_path: str, context_length: int):
    from gesture_jax.text import siglip_tokenizer

    return siglip_tokenizer.SiglipTokenizer.from_folder(vocab_path, context_length)(list(texts)), None


def _videoprism(texts: Sequence[str], vocab_path: str, context_length: int):
    from gesture_jax.text import videoprism_tokenizer

    return videoprism_tokenizer.tokenize_texts(list(texts), vocab_path, context_length)


TOKENIZERS: dict[str, Tokenize] = {
    "clip_bpe": _clip_bpe,  # OpenAI CLIP's BPE (ViCLIP)
    "siglip": _siglip,  # SentencePiece as transformers' SiglipTokenizer / Gemma tokenizer (SigLIP 2)
    "videoprism": _videoprism,  # T5's c4_en SentencePiece with VideoPrism's text canonicalisation
}


def tokenize(name: str, texts: Sequence[str], vocab_path: str, context_length: int):
    """`texts` as tokenizer `name`'s reference tokenizes them (a ValueError naming the known ones)."""
    if name not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS)}")
    return TOKENIZERS[name](texts, vocab_path, context_length)
