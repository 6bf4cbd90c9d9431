"""CLIP byte-level BPE tokenizer for ViCLIP's text tower.

Gives the same ids as OpenAI CLIP's ``SimpleTokenizer`` as ViCLIP uses it (``CLIP_TEXT.tokenize(texts,
context_length=32, truncate=True)``): ftfy + double HTML unescape + whitespace collapse + lowercase, a
regex pre-tokenizer, then byte-level BPE with ``</w>`` marking the end of each pre-token. Literal
``<|startoftext|>`` / ``<|endoftext|>`` in the text become the special ids, as in OpenAI's code.

The merges file (``bpe_simple_vocab_16e6.txt.gz``, OpenAI's data, MIT) ships with the package in
``clip_vocab/`` beside its licence, so zero-shot runs offline; ``resolve_vocab_path`` says which file a run
uses, and ``python -m gesture_jax.text.clip_bpe --help`` gives a quick check.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import html
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import ftfy
import numpy as np
import regex

VOCAB_FILENAME = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_ENV_VAR = "GESTURE_JAX_CLIP_VOCAB"
BUNDLED_VOCAB = Path(__file__).resolve().parent / "clip_vocab" / VOCAB_FILENAME  # with its LICENSE
VOCAB_MD5 = "933b7abbbbde62c36f02f0e6ccde464f"
VOCAB_NUM_BYTES = 1_356_917
# The real file holds more merge lines than CLIP uses; it keeps the first 49152 - 256 - 2 of them.
NUM_MERGES = 49152 - 256 - 2
# 256 byte symbols, 256 byte symbols ending a word, the merges and the two specials.
CLIP_VOCAB_SIZE = 2 * 256 + NUM_MERGES + 2
SOT_TOKEN = "<|startoftext|>"
EOT_TOKEN = "<|endoftext|>"
PAD_ID = 0
END_OF_WORD = "</w>"

_PRE_TOKEN_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)
# `regex`'s \s, not `re`'s: the reference collapses whitespace with `regex`, and the two differ on a few
# control characters.
_WHITESPACE = regex.compile(r"\s+")


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte → printable character table, in the order that fixes the first 256 vocabulary ids.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, soft hyphen, ...)
    get the characters from U+0100 on, in byte order, so no symbol is whitespace or invisible.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table = {b: chr(b) for b in printable}
    next_code = 256
    for b in range(256):
        if b not in table:
            table[b] = chr(next_code)
            next_code += 1
    return table


def clean_text(text: str) -> str:
    """The reference's ``whitespace_clean(basic_clean(text)).lower()``."""
    text = ftfy.fix_text(text)
    # Twice, so doubly escaped entities such as "&amp;amp;" come out as plain characters.
    text = html.unescape(html.unescape(text)).strip()
    return _WHITESPACE.sub(" ", text).strip().lower()


def pre_tokenize(cleaned: str) -> list[str]:
    """Splits cleaned text into words, contractions, single digits and punctuation runs."""
    return _PRE_TOKEN_PATTERN.findall(cleaned)


def resolve_vocab_path(vocab_path: str | os.PathLike[str] | None = None) -> Path:
    """The merges file: ``vocab_path``, else ``$GESTURE_JAX_CLIP_VOCAB``, else the copy shipped with the
    package (`BUNDLED_VOCAB`).

    Raises:
      FileNotFoundError: a file named by `vocab_path` or the variable does not exist.
    """
    if vocab_path is not None:
        path, origin = Path(vocab_path), "vocab_path"
    elif os.environ.get(VOCAB_ENV_VAR):
        path, origin = Path(os.environ[VOCAB_ENV_VAR]), f"${VOCAB_ENV_VAR}"
    else:
        return BUNDLED_VOCAB
    path = path.expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"CLIP BPE vocabulary {path} (from {origin}) does not exist; name the file, or name none to use "
            f"the copy shipped with gesture_jax ({BUNDLED_VOCAB})"
        )
    return path


def read_merges(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """The BPE merges of a gzip merges file: a version header line, then one "left right" pair per line.

    A file named like the real vocabulary must match its md5, so a truncated or wrong download fails here
    rather than producing plausible but wrong ids. Other names (small test files) are not checked.
    """
    path = Path(path)
    raw = path.read_bytes()
    if path.name == VOCAB_FILENAME:
        digest = hashlib.md5(raw).hexdigest()
        if digest != VOCAB_MD5:
            raise ValueError(
                f"{path} is not the expected {VOCAB_FILENAME}: md5 {digest} ({len(raw):,} bytes), expected "
                f"{VOCAB_MD5} ({VOCAB_NUM_BYTES:,} bytes). The download is probably corrupt or truncated; "
                "fetch it again."
            )
    lines = gzip.decompress(raw).decode("utf-8").split("\n")
    merges = []
    for line_no, line in enumerate(lines[1 : NUM_MERGES + 1], start=2):
        if not line.strip():  # e.g. the trailing newline of a short file
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{line_no}: expected two symbols per merge line, got {line!r}")
        merges.append((parts[0], parts[1]))
    return merges


class ClipTokenizer:
    """CLIP's byte-level BPE tokenizer, built from a merges file.

    The vocabulary is derived from the merges present: the 256 byte symbols, the same with ``</w>``, one
    entry per merge, then SOT and EOT. The real file gives ``CLIP_VOCAB_SIZE`` (49408) entries.
    """

    def __init__(self, vocab_path: str | os.PathLike[str] | None = None, bpe_cache_size: int = 10_000):
        self.vocab_path = resolve_vocab_path(vocab_path)
        merges = read_merges(self.vocab_path)
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        symbols = list(self.byte_encoder.values())
        vocab = [
            *symbols,
            *(s + END_OF_WORD for s in symbols),
            *(a + b for a, b in merges),
            SOT_TOKEN,
            EOT_TOKEN,
        ]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        if len(self.encoder) != len(vocab):
            raise ValueError(f"{self.vocab_path}: merges produce duplicate vocabulary entries")
        self.decoder = vocab
        self.bpe_ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.sot_id = self.encoder[SOT_TOKEN]
        self.eot_id = self.encoder[EOT_TOKEN]
        self._specials = {SOT_TOKEN: self.sot_id, EOT_TOKEN: self.eot_id}
        # Captions repeat the same few hundred words; the cache keeps BPE off the hot path. Per instance,
        # since the result depends on this instance's merges.
        self._bpe_cached = functools.lru_cache(maxsize=bpe_cache_size)(self._bpe_uncached)

    @property
    def vocab_size(self) -> int:
        return len(self.decoder)

    clean = staticmethod(clean_text)
    pre_tokenize = staticmethod(pre_tokenize)

    def bpe(self, pre_token: str) -> tuple[str, ...]:
        """The BPE symbols of one pre-token (raw text; it is mapped to byte symbols here)."""
        if pre_token in self._specials:
            return (pre_token,)
        return self._bpe_cached("".join(self.byte_encoder[b] for b in pre_token.encode("utf-8")))

    def _bpe_uncached(self, symbols: str) -> tuple[str, ...]:
        word = [*symbols[:-1], symbols[-1] + END_OF_WORD]
        ranks = self.bpe_ranks
        while len(word) > 1:
            best = min(zip(word, word[1:]), key=lambda pair: ranks.get(pair, len(ranks)))
            if best not in ranks:
                break
            # Merge every occurrence of the best pair, scanning left to right without overlaps.
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return tuple(word)

    def bpe_strings(self, text: str) -> list[str]:
        """The vocabulary strings that ``encode`` returns the ids of."""
        return [symbol for token in pre_tokenize(clean_text(text)) for symbol in self.bpe(token)]

    def encode(self, text: str) -> list[int]:
        """BPE ids of ``text`` without SOT/EOT."""
        return [self.encoder[symbol] for symbol in self.bpe_strings(text)]

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        """Text of ``ids``: each ``</w>`` becomes a space, the final one dropped; cleaning is not undone.

        With ``skip_special_tokens``, SOT is dropped and decoding stops at the first EOT, so a padded row
        of ``tokenize`` decodes to its caption (pad id 0 is also the real token "!").
        """
        pieces = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.decoder):
                raise ValueError(f"token id {i} outside the vocabulary [0, {len(self.decoder)})")
            if skip_special_tokens and i == self.eot_id:
                break
            if skip_special_tokens and i == self.sot_id:
                continue
            pieces.append(self.decoder[i])
        # "</w>" is plain ASCII in the byte table, so it survives the byte round trip and is replaced after.
        data = bytes(self.byte_decoder[c] for c in "".join(pieces))
        return data.decode("utf-8", errors="replace").replace(END_OF_WORD, " ").rstrip(" ")

    def tokenize(
        self, texts: str | Sequence[str], context_length: int = 32, truncate: bool = True
    ) -> np.ndarray:
        """int32 [N, context_length]: SOT, BPE ids, EOT, then zeros.

        A longer row keeps its first ``context_length`` ids with the last one set to EOT (ViCLIP's
        ``truncate=True``); with ``truncate=False`` it raises instead.
        """
        if context_length < 2:
            raise ValueError(f"context_length must be at least 2 (SOT and EOT), got {context_length}")
        if isinstance(texts, str):
            texts = [texts]
        out = np.full((len(texts), context_length), PAD_ID, dtype=np.int32)
        for row, text in enumerate(texts):
            ids = [self.sot_id, *self.encode(text), self.eot_id]
            if len(ids) > context_length:
                if not truncate:
                    raise ValueError(
                        f"{text!r} needs {len(ids)} tokens, more than context_length={context_length}"
                    )
                ids = ids[:context_length]
                ids[-1] = self.eot_id
            out[row, : len(ids)] = ids
        return out


@functools.lru_cache(maxsize=4)
def _tokenizer_for(path: Path) -> ClipTokenizer:
    return ClipTokenizer(path)


def get_tokenizer(vocab_path: str | os.PathLike[str] | None = None) -> ClipTokenizer:
    """The ``ClipTokenizer`` of a merges file, shared so repeated calls keep its merges and BPE cache."""
    return _tokenizer_for(resolve_vocab_path(vocab_path).resolve())


def clip_tokenize(
    texts: str | Sequence[str], context_length: int = 32, vocab_path: str | os.PathLike[str] | None = None
) -> np.ndarray:
    """ViCLIP's ``tokenize(texts, context_length, truncate=True)``: int32 [N, context_length]."""
    return get_tokenizer(vocab_path).tokenize(texts, context_length=context_length)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Print CLIP BPE token ids (as ViCLIP's text tower sees them)."
    )
    parser.add_argument("texts", nargs="+", help="texts to tokenize")
    parser.add_argument(
        "--vocab", default=None, help=f"merges file (default: ${VOCAB_ENV_VAR}, then the shipped copy)"
    )
    parser.add_argument("--context-length", type=int, default=32)
    args = parser.parse_args(argv)
    tokenizer = get_tokenizer(args.vocab)
    for text, row in zip(args.texts, tokenizer.tokenize(args.texts, args.context_length)):
        print(f"{text!r}: {row.tolist()}")
        print(f"  bpe: {tokenizer.bpe_strings(text)}")


if __name__ == "__main__":
    main()
