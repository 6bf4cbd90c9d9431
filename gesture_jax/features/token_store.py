"""Tokens on disk, read back in batches with flat memory: the store behind token probes.

A video's tokens are far larger than its feature vector (a ViT-B/16 clip of 1,568 tokens, UMT's 8 frames
or VideoMAE's 16: 1,568 × 768 values, 2.4 MB in float16, against 3 KB for its feature), so a split's
tokens are never held in memory at once. A store is a folder of part files written as extraction
produces them (`token_extraction.extract_tokens`):

* ``tokens_<i>.npy``: ``[n_i, *shape]`` in the store's dtype: float16 by default (half the bytes of
  float32; it holds every bfloat16 value between 2⁻¹⁴ and 65,504 exactly), or lossless ``float32``;
* ``index_<i>.npz``: the part's ``labels`` [n_i] and ``ids`` [n_i];
* ``store.json``: the dtype, the per-video shape and the part sizes, written last, so a store without it
  is unfinished.

`TokenStore.batches` reads ``.npy`` parts memory-mapped (a local folder) and copies only the batch it
yields into float32; a bucket's parts are read one at a time. Peak memory is then about one batch, or one
part for a bucket, whatever the number of videos (tested). numpy's own ``.npy`` format is used because it
maps without a copy and every tool reads it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from collections.abc import Iterator

import numpy as np

from gesture_jax.infra import storage

STORE_FILE = "store.json"
DTYPES = ("float16", "float32")


@dataclasses.dataclass(frozen=True)
class TokenBatch:
    tokens: np.ndarray  # [b, *shape] float32
    labels: np.ndarray  # [b] int32
    ids: np.ndarray  # [b] str


def _tokens_file(part: int) -> str:
    return f"tokens_{part:05d}.npy"


def _index_file(part: int) -> str:
    return f"index_{part:05d}.npz"


def write_part(folder: str, part: int, tokens: np.ndarray, labels: np.ndarray, ids: np.ndarray, *,
               dtype: str = "float16") -> None:  # fmt: skip
    """Part `part` of a store: `tokens` [n, *shape] cast to `dtype`, with their labels and ids (atomic)."""
    if dtype not in DTYPES:
        raise ValueError(f"token store dtype {dtype!r}; expected one of {DTYPES}")
    tokens = np.asarray(tokens)
    if not (len(tokens) == len(labels) == len(ids)):
        raise ValueError(f"part {part}: {len(tokens)} token rows, {len(labels)} labels, {len(ids)} ids")
    buffer = io.BytesIO()
    with np.errstate(over="ignore"):  # checked just below, with a message that says what to do
        stored = tokens.astype(dtype)
    if not np.isfinite(stored).all():
        bad = (
            "not finite"
            if not np.isfinite(tokens).all()
            else f"beyond {dtype}'s range (max {np.abs(tokens).max():.3g})"
        )
        raise ValueError(
            f"{folder} part {part}: tokens {bad}; store them as float32 (e.g. config.attentive.tokens.dtype)"
        )
    np.save(buffer, stored)
    storage.write_bytes(os.path.join(folder, _tokens_file(part)), buffer.getvalue())
    storage.write_npz(os.path.join(folder, _index_file(part)), labels=np.asarray(labels, np.int32), ids=ids)


def has_part(folder: str, part: int) -> bool:
    """Whether both files of part `part` are written (the index is written second)."""
    return storage.exists(os.path.join(folder, _index_file(part))) and storage.exists(
        os.path.join(folder, _tokens_file(part))
    )


def part_index(folder: str, part: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, ids) of part `part`."""
    with np.load(io.BytesIO(storage.read_bytes(os.path.join(folder, _index_file(part))))) as z:
        return z["labels"], z["ids"]


def finish(folder: str, part_sizes: list[int], shape: tuple[int, ...], dtype: str = "float16") -> None:
    """Marks the store complete: its per-video `shape`, `dtype` and each part's size."""
    body = {"dtype": dtype, "shape": list(shape), "parts": list(part_sizes)}
    storage.write_json(os.path.join(folder, STORE_FILE), body)


@dataclasses.dataclass(frozen=True)
class TokenStore:
    folder: str
    dtype: str
    shape: tuple[int, ...]  # per video
    parts: tuple[int, ...]  # videos per part

    @classmethod
    def open(cls, folder: str) -> TokenStore:
        path = os.path.join(folder, STORE_FILE)
        if not storage.exists(path):
            raise FileNotFoundError(f"{folder} is not a finished token store (no {STORE_FILE})")
        body = json.loads(storage.read_text(path))
        return cls(folder, body["dtype"], tuple(body["shape"]), tuple(body["parts"]))

    def __len__(self) -> int:
        return sum(self.parts)

    @property
    def bytes_per_video(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    def index(self) -> tuple[np.ndarray, np.ndarray]:
        """Every video's (labels, ids), in store order: small, read whole."""
        parts = [self._part_index(part) for part in range(len(self.parts))]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def batches(self, batch_size: int) -> Iterator[TokenBatch]:
        """The videos in store order, `batch_size` at a time (the last batch shorter), as float32."""
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size}; expected at least 1")
        pending: list[TokenBatch] = []
        for part, size in enumerate(self.parts):
            tokens = self._part_tokens(part)
            if tokens.shape != (size, *self.shape):
                raise ValueError(
                    f"{self.folder} part {part}: tokens {tokens.shape}, store.json says {(size, *self.shape)}"
                )
            labels, ids = self._part_index(part)
            for start in range(0, size, batch_size):
                stop = min(size, start + batch_size)
                pending.append(
                    TokenBatch(
                        np.asarray(tokens[start:stop], np.float32), labels[start:stop], ids[start:stop]
                    )
                )
                while sum(len(b.labels) for b in pending) >= batch_size:
                    batch, pending = _take(pending, batch_size)
                    yield batch
        if pending:
            yield _take(pending, sum(len(b.labels) for b in pending))[0]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The tokens of the videos at store positions `rows`, in that order, as float32 [len(rows), *shape]:
        only those videos are read (the training batches of a probe, in shuffled order)."""
        rows = np.asarray(rows, np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"rows {rows.min()}..{rows.max()} outside the store's {len(self)} videos")
        out = np.empty((len(rows), *self.shape), np.float32)
        bounds = np.cumsum([0, *self.parts])
        part_of = np.searchsorted(bounds, rows, side="right") - 1
        for part in np.unique(part_of):
            at = np.flatnonzero(part_of == part)
            local = rows[at] - bounds[part]
            order = np.argsort(local, kind="stable")  # ascending reads from the memory map
            out[at[order]] = self._part_tokens(int(part))[local[order]]
        return out

    def _part_index(self, part: int) -> tuple[np.ndarray, np.ndarray]:
        return part_index(self.folder, part)

    def _part_tokens(self, part: int) -> np.ndarray:
        path = os.path.join(self.folder, _tokens_file(part))
        if "://" in path:  # a bucket: one part in memory at a time
            return np.load(io.BytesIO(storage.read_bytes(path)))
        return np.load(path, mmap_mode="r")


def _take(pending: list[TokenBatch], n: int) -> tuple[TokenBatch, list[TokenBatch]]:
    """The first `n` videos of the pending pieces as one batch, and the rest."""
    joined = TokenBatch(
        *(np.concatenate([getattr(b, f) for b in pending]) for f in ("tokens", "labels", "ids"))
    )
    head = TokenBatch(joined.tokens[:n], joined.labels[:n], joined.ids[:n])
    rest = (
        [TokenBatch(joined.tokens[n:], joined.labels[n:], joined.ids[n:])] if n < len(joined.labels) else []
    )
    return head, rest
