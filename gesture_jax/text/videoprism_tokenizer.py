"""VideoPrism LvT's text input: the official canonicalisation and SentencePiece tokenisation.

`tokenize_texts` is the official ``videoprism.models.tokenize_texts`` with its
``tokenizers.SentencePieceTokenizer``: each text canonicalised (punctuation → space, lower case, single
spaces, a final "."), encoded with the SentencePiece model, BOS prepended iff the model has one
(``bos_id() >= 0``; the released ``c4_en`` vocabulary, T5's ``cc_en.32000``, has none), no EOS, cut or
padded with id 0 to `max_length`, and paddings 1.0 on the padded positions. The ids and paddings feed
``VideoPrismLvT.encode_text``; the colab's prompt is ``"a video of {}."``.
"""

from __future__ import annotations

import functools
import string
from typing import Sequence

import numpy as np

TEXT_MAX_LEN = 64  # the official default
PROMPT_TEMPLATE = "a video of {}."  # the video-text colab's
_PUNCTUATION = str.maketrans(string.punctuation, " " * len(string.punctuation))


def canonicalize_text(text: str) -> str:
    """The official ``utils.canonicalize_text``: "Hello,World.." → "hello world."."""
    return " ".join(text.translate(_PUNCTUATION).lower().split()) + "."


@functools.lru_cache(maxsize=4)
def _processor(model_file: str):
    import sentencepiece  # only the LvT text path needs it

    with open(model_file, "rb") as f:
        proto = f.read()
    processor = sentencepiece.SentencePieceProcessor()
    processor.LoadFromSerializedProto(proto)
    return processor


def tokenize_texts(
    texts: Sequence[str],
    model_file: str,
    max_length: int = TEXT_MAX_LEN,
    *,
    add_bos: bool | None = None,
    canonicalize: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(ids int32 [N, max_length], paddings float32 [N, max_length], 1 = padding), as the official code."""
    if isinstance(texts, str):
        raise TypeError("tokenize_texts takes a sequence of texts, not one string")
    sp = _processor(model_file)
    if add_bos is None:
        add_bos = sp.bos_id() >= 0
    ids_out = np.zeros((len(texts), max_length), np.int32)
    paddings = np.ones((len(texts), max_length), np.float32)
    for row, text in enumerate(texts):
        ids = ([sp.bos_id()] if add_bos else []) + sp.EncodeAsIds(
            canonicalize_text(text) if canonicalize else text
        )
        ids = ids[:max_length]
        ids_out[row, : len(ids)] = ids
        paddings[row, : len(ids)] = 0.0
    return ids_out, paddings
