"""SigLIP / SigLIP 2 token ids from a checkpoint folder's own tokenizer files, as transformers' processors
make them with ``padding="max_length"`` (how the models were trained; the text tower pools the last
position), with sentencepiece.

* SigLIP (``spiece.model``, transformers ``SiglipTokenizer``): the model is loaded with
  ``add_dummy_prefix`` off; the text gets a leading ``▁``, is lower-cased (``do_lower_case``), its ASCII
  punctuation removed and whitespace collapsed (big_vision's ``canonicalize_text``); the pieces are those of
  ``"<unk>" + text`` less the leading ``<unk>`` pieces; ``</s>`` is appended; pad id = ``</s>`` (1).
* SigLIP 2 (``tokenizer.model``, the Gemma sentencepiece model): encoded as is; BOS/EOS/lower-casing as
  the folder's ``tokenizer_config.json`` says (``add_bos_token``, ``add_eos_token``; lower-case only for
  ``Siglip2Tokenizer``), with GemmaTokenizer's defaults (BOS yes, EOS no) where it is silent; pad ``<pad>``.

Both truncate the text so that the special tokens still fit (``truncation=True``), then pad on the right
to `context_length` (64). No attention mask is returned: the references run the text tower without one.
Literal special tokens written in a text (``"</s>"``) are not recognised: they are text here.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Sequence

import numpy as np
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

CONTEXT_LENGTH = 64
SPIECE_UNDERLINE = "▁"
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def canonicalize_text(text: str) -> str:
    """big_vision's ``canonicalize_text`` as SiglipTokenizer applies it: ASCII punctuation removed,
    whitespace runs collapsed to one space, stripped."""
    return re.sub(r"\s+", " ", text.translate(_PUNCTUATION)).strip()


class SiglipTokenizer:
    """``tokenizer(texts) -> int32 [N, context_length]``; `from_folder` picks the rules by the files there."""

    def __init__(
        self,
        model_file: str,
        *,
        kind: str,
        context_length: int = CONTEXT_LENGTH,
        lowercase: bool,
        add_bos: bool = False,
        add_eos: bool = True,
        pad_token: str,
        eos_token: str,
        bos_token: str | None = None,
        unk_token: str = "<unk>",
    ):
        if kind not in ("siglip", "gemma"):
            raise ValueError(f"kind must be 'siglip' (spiece.model) or 'gemma' (SigLIP 2), got {kind!r}")
        self.kind, self.context_length, self.lowercase = kind, context_length, lowercase
        self.add_bos, self.add_eos = add_bos, add_eos
        with open(model_file, "rb") as f:
            proto = sentencepiece_model_pb2.ModelProto.FromString(f.read())
        if kind == "siglip":  # SiglipTokenizer.get_spm_processor
            proto.normalizer_spec.add_dummy_prefix = False
        self.sp = spm.SentencePieceProcessor()
        self.sp.LoadFromSerializedProto(proto.SerializeToString())
        self.pad_id = self._id(pad_token)
        self.eos_id = self._id(eos_token)
        self.bos_id = self._id(bos_token) if add_bos else None
        self.unk_token = unk_token
        self._unk_length = len(self.sp.encode(unk_token, out_type=str))

    def _id(self, piece: str) -> int:
        i = self.sp.piece_to_id(piece)
        if self.sp.id_to_piece(i) != piece:
            raise ValueError(f"the tokenizer model has no piece {piece!r}")
        return i

    @classmethod
    def from_folder(cls, folder: str, context_length: int = CONTEXT_LENGTH) -> "SiglipTokenizer":
        """The tokenizer a SigLIP (``spiece.model``) or SigLIP 2 (``tokenizer.model``) Hub folder ships."""
        config_file = os.path.join(folder, "tokenizer_config.json")
        config = json.load(open(config_file)) if os.path.isfile(config_file) else {}
        spiece, gemma = os.path.join(folder, "spiece.model"), os.path.join(folder, "tokenizer.model")
        if os.path.isfile(spiece):
            return cls(
                spiece,
                kind="siglip",
                context_length=context_length,
                lowercase=config.get("do_lower_case", True),
                pad_token=_token(config.get("pad_token"), "</s>"),
                eos_token=_token(config.get("eos_token"), "</s>"),
                unk_token=_token(config.get("unk_token"), "<unk>"),
            )
        if os.path.isfile(gemma):
            return cls(
                gemma,
                kind="gemma",
                context_length=context_length,
                lowercase=config.get("tokenizer_class") == "Siglip2Tokenizer"
                or config.get("do_lower_case", False),
                add_bos=config.get("add_bos_token", True),
                add_eos=config.get("add_eos_token", False),
                pad_token=_token(config.get("pad_token"), "<pad>"),
                eos_token=_token(config.get("eos_token"), "<eos>"),
                bos_token=_token(config.get("bos_token"), "<bos>"),
                unk_token=_token(config.get("unk_token"), "<unk>"),
            )
        raise FileNotFoundError(
            f"{folder}: no spiece.model (SigLIP) or tokenizer.model (SigLIP 2) sentencepiece file; "
            f"the folder holds {sorted(os.listdir(folder)) if os.path.isdir(folder) else 'nothing'}"
        )

    def pieces(self, text: str) -> list[str]:
        """The text's pieces, before special tokens, truncation and padding."""
        if self.kind == "gemma":
            return self.sp.encode(text.lower() if self.lowercase else text, out_type=str)
        text = SPIECE_UNDERLINE + text.replace(SPIECE_UNDERLINE, " ")  # SiglipTokenizer.tokenize
        if self.lowercase:
            text = text.lower()
        pieces = self.sp.encode(self.unk_token + canonicalize_text(text), out_type=str)
        return pieces[self._unk_length :] if len(pieces) >= self._unk_length else pieces

    def encode(self, text: str) -> list[int]:
        """Ids with the special tokens, truncated to `context_length`, not padded."""
        ids = [self.sp.piece_to_id(p) for p in self.pieces(text)]
        room = self.context_length - self.add_bos - self.add_eos
        ids = ids[:room]
        if self.add_bos:
            ids = [self.bos_id, *ids]
        return [*ids, self.eos_id] if self.add_eos else ids

    def __call__(self, texts: str | Sequence[str]) -> np.ndarray:
        """int32 [N, context_length]: each text's ids, padded on the right with the pad id."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = np.full((len(texts), self.context_length), self.pad_id, np.int32)
        for row, text in enumerate(texts):
            ids = self.encode(text)
            out[row, : len(ids)] = ids
        return out


def _token(value, default: str) -> str:
    """A special token from tokenizer_config.json: a string or an AddedToken dict ({"content": ...})."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else default
