"""Zero-shot classification: class embeddings from text prompts, scores = softmax(scale · cosine).

As ViCLIP's official demo: L2-normalised video features against L2-normalised text features,
probabilities softmax(100 · v̂·t̂ᵀ). A class with several prompts gets CLIP's ensemble: the mean of its
normalised prompt features, normalised again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import jax
import numpy as np
from flax import nnx

from gesture_jax import prompts, text

# Prompt batches are padded to a multiple of this, so prompt sets of similar size share one compilation.
_ROW_MULTIPLE = 32
_NORM_TOLERANCE = 1e-3


@nnx.jit
def _encode_text(model: nnx.Module, token_ids: jax.Array) -> jax.Array:
    return model.encode_text(token_ids)


def encode_texts(model: nnx.Module, token_ids: np.ndarray) -> np.ndarray:
    """`model.encode_text` over every row in one jitted call; rows are padded (and dropped) so the compiled
    shape depends only on the row count rounded up to `_ROW_MULTIPLE`."""
    n = len(token_ids)
    padded = np.zeros((-(-n // _ROW_MULTIPLE) * _ROW_MULTIPLE, token_ids.shape[1]), token_ids.dtype)
    padded[:n] = token_ids
    return np.asarray(_encode_text(model, padded), np.float32)[:n]


def ensemble(prompt_features: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """[C, E]: per class (its `counts[c]` consecutive rows), the mean of the L2-normalised prompt features,
    L2-normalised again."""
    if sum(counts) != len(prompt_features) or min(counts) < 1:
        raise ValueError(f"counts {list(counts)} do not split {len(prompt_features)} prompt features")
    x = _normalize(np.asarray(prompt_features, np.float64))
    means = np.stack([chunk.mean(axis=0) for chunk in np.split(x, np.cumsum(counts)[:-1])])
    return _normalize(means).astype(np.float32)


def class_embeddings(
    model: nnx.Module,
    prompt_set: str | prompts.PromptSet,
    class_names: Sequence[str],
    *,
    vocab_path: str | os.PathLike[str] | None = None,
    context_length: int = 32,
) -> np.ndarray:
    """[C, E] float32: one L2-normalised text embedding per class, in `class_names` order."""
    if not hasattr(model, "encode_text"):
        raise ValueError(f"{type(model).__name__} has no text tower (encode_text)")
    if isinstance(prompt_set, str):
        prompt_set = prompts.get(prompt_set)
    per_class = prompt_set.prompts(class_names)
    token_ids = text.clip_tokenize(
        [p for texts in per_class for p in texts], context_length=context_length, vocab_path=vocab_path
    )
    return ensemble(encode_texts(model, token_ids), [len(texts) for texts in per_class])


def zeroshot_logits(
    video_features: np.ndarray, class_embeddings: np.ndarray, scale: float = 100.0
) -> np.ndarray:
    """[N, C] float32: scale · v·tᵀ, both sides already L2-normalised (checked, not redone)."""
    return _logits(video_features, class_embeddings, scale).astype(np.float32)


def zeroshot_scores(
    video_features: np.ndarray, class_embeddings: np.ndarray, scale: float = 100.0
) -> tuple[np.ndarray, np.ndarray]:
    """(predictions [N] int32, probabilities [N, C] float32) = argmax, softmax of `zeroshot_logits`."""
    logits = _logits(video_features, class_embeddings, scale)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return probs.argmax(axis=1).astype(np.int32), probs.astype(np.float32)


def _logits(video_features: np.ndarray, class_embeddings: np.ndarray, scale: float) -> np.ndarray:
    v = _check_normalized(video_features, "video features")
    t = _check_normalized(class_embeddings, "class embeddings")
    if v.shape[1] != t.shape[1]:
        raise ValueError(f"video features are {v.shape[1]}-d but class embeddings {t.shape[1]}-d")
    return scale * (v @ t.T)


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _check_normalized(x: np.ndarray, what: str) -> np.ndarray:
    """`x` as float64 [N, E]; raises if any row's norm is off 1, since the scale assumes cosines."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"{what}: expected [N, E], got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1)
    if len(norms) and np.abs(norms - 1).max() > _NORM_TOLERANCE:
        raise ValueError(
            f"{what} are not L2-normalised (row norms {norms.min():.4g}..{norms.max():.4g}); zero-shot "
            "expects the encoder's normalised features (ViCLIP's `features` / `encode_text`)"
        )
    return x
