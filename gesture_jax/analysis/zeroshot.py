"""Zero-shot classification: class embeddings from text prompts, scored against video features.

Each family with a text tower names its text side in its module: ``TEXT``, a `family.TextTower`
(tokenizer, context, vocabulary, scoring rule).

* ``clip_bpe`` + ``softmax`` (ViCLIP, as its official demo): L2-normalised video features against
  L2-normalised text features, probabilities softmax(100 · v̂·t̂ᵀ);
* ``videoprism`` + ``softmax`` (VideoPrism LvT, as its colab: temperature 0.01, i.e. the same ×100);
* ``siglip`` + ``sigmoid`` (SigLIP 2): cos(v, t) · exp(logit_scale) + logit_bias, the model's own
  converted scale and bias, probabilities sigmoid of each class's logit.

A class with several prompts gets CLIP's ensemble: the mean of its normalised prompt features,
normalised again. Where each tokenizer's vocabulary comes from: `resolve_vocab`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import jax
import numpy as np
from flax import nnx

from gesture_jax.models.family import TextTower
from gesture_jax.text import clip_bpe, prompts, tokenizers

# Prompt batches are padded to a multiple of this, so prompt sets of similar size share one compilation.
_ROW_MULTIPLE = 32
_NORM_TOLERANCE = 1e-3


@nnx.jit
def _encode_text(model: nnx.Module, token_ids: jax.Array) -> jax.Array:
    return model.encode_text(token_ids)


@nnx.jit
def _encode_text_padded(model: nnx.Module, token_ids: jax.Array, paddings: jax.Array) -> jax.Array:
    return model.encode_text(token_ids, paddings=paddings)


def _pad_rows(x: np.ndarray, rows: int) -> np.ndarray:
    """`x` with its first row repeated up to `rows` rows (a real row: no all-padding text is encoded)."""
    return np.concatenate([x, np.repeat(x[:1], rows - len(x), axis=0)])


def encode_texts(model: nnx.Module, token_ids: np.ndarray, paddings: np.ndarray | None = None) -> np.ndarray:
    """`model.encode_text` over every row in one jitted call; rows are padded (and dropped) so the compiled
    shape depends only on the row count rounded up to `_ROW_MULTIPLE`. `paddings` (1 = padding) go to
    towers that take them (VideoPrism LvT)."""
    n = len(token_ids)
    rows = -(-n // _ROW_MULTIPLE) * _ROW_MULTIPLE
    if paddings is None:
        return np.asarray(_encode_text(model, _pad_rows(token_ids, rows)), np.float32)[:n]
    out = _encode_text_padded(model, _pad_rows(token_ids, rows), _pad_rows(paddings, rows))
    return np.asarray(out, np.float32)[:n]


def resolve_vocab(tower: TextTower, vocab_path: str | None, checkpoint: str = "") -> str:
    """Where the text tower's vocabulary is: `vocab_path` when given (checked), else by the tower's
    ``vocabulary`` rule:

    * ``clip_merges``: OpenAI's merges file by `gesture_jax.text.clip_bpe`'s lookup;
    * ``checkpoint_folder``: the transformers folder the checkpoint was converted from (model.json's
      source), whose ``tokenizer.model`` / ``spiece.model`` and ``tokenizer_config.json`` it reads;
    * none: the file (VideoPrism's c4_en SentencePiece model) must be named.
    """
    if tower.vocabulary == "clip_merges":
        return str(clip_bpe.resolve_vocab_path(vocab_path or None))
    if not vocab_path and tower.vocabulary == "checkpoint_folder" and checkpoint:
        from gesture_jax.models import model_dir

        vocab_path = model_dir.read_meta(checkpoint)["source"]["file"]
    if not vocab_path:
        what = (
            "the transformers folder holding tokenizer.model or spiece.model"
            if tower.vocabulary == "checkpoint_folder"
            else "the SentencePiece model file (c4_en's sentencepiece.model)"
        )
        raise ValueError(
            f"zero-shot with the {tower.tokenizer} tokenizer needs --config.zeroshot.vocab_path: {what}"
        )
    if not os.path.exists(vocab_path):
        raise FileNotFoundError(
            f"zeroshot.vocab_path {vocab_path} does not exist ({tower.tokenizer} tokenizer)"
        )
    return vocab_path


def tokenize(
    tokenizer: str, texts: Sequence[str], vocab_path: str, context_length: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """(token ids [N, L], paddings [N, L] or None) of `texts` as the family's reference tokenizes them."""
    return tokenizers.tokenize(tokenizer, texts, vocab_path, context_length)


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
    tower: TextTower,
    vocab_path: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """[C, E] float32: one L2-normalised text embedding per class, in `class_names` order; `tower` is the
    model family's text side (`models.text_tower`)."""
    if not hasattr(model, "encode_text"):
        raise ValueError(f"{type(model).__name__} has no text tower (encode_text)")
    if isinstance(prompt_set, str):
        prompt_set = prompts.get(prompt_set)
    per_class = prompt_set.prompts(class_names)
    flat = [p for texts in per_class for p in texts]
    features = prompt_features(model, flat, tower=tower, vocab_path=vocab_path)
    return ensemble(features, [len(texts) for texts in per_class])


def prompt_features(
    model: nnx.Module, texts: Sequence[str], *, tower: TextTower, vocab_path: str | os.PathLike[str] | None
) -> np.ndarray:
    """[N, E] float32: the text tower's output for each text, as is (not normalised), tokenised as the
    family's `tower` says."""
    token_ids, paddings = tokenize(tower.tokenizer, texts, vocab_path, tower.context(model))
    # An id past the embedding table would be clamped silently inside jit: check on the host.
    vocab = tower.vocabulary_size(model)
    if token_ids.size and int(token_ids.max()) >= vocab:
        raise ValueError(
            f"the {tower.tokenizer} tokenizer at {vocab_path} gives id {int(token_ids.max())}, but the text "
            f"tower's vocabulary has {vocab} entries: the tokenizer is not this checkpoint's"
        )
    return encode_texts(model, token_ids, paddings)


def sigmoid_scores(
    video_features: np.ndarray, class_embeddings: np.ndarray, logit_scale: float, logit_bias: float
) -> tuple[np.ndarray, np.ndarray]:
    """SigLIP's rule: (predictions [N] int32, probabilities [N, C] float32) from cos(v, t) · exp(logit_scale)
    + logit_bias, the video features normalised here (SigLIP's are not), the probabilities sigmoid."""
    v = _normalize(np.asarray(video_features, np.float64))
    t = _check_normalized(class_embeddings, "class embeddings")
    logits = (v @ t.T) * np.exp(logit_scale) + logit_bias
    return logits.argmax(axis=1).astype(np.int32), (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


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
