"""Token extraction: an encoder's tokens for every video of a split, into a token store on disk.

The same loop as feature extraction (`extraction.run_chunks`: one compiled step over the mesh, a part
file per chunk, resume at the first missing part), the same cache key and manifest, with three
differences: the views are kept (a probe is tested on each view and its logits averaged), the output
is ``[V, L, N, D]`` per video (views, layers, tokens, channels), optionally pooled over 2×2 patches, and
the parts go to a `token_store` in float16 rather than into one ``features.npz``. Part files are kept
to about `PART_BYTES`, so host memory during extraction is one part, whatever the split's size.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from typing import Any

import numpy as np

from gesture_jax.data.datasets import Split
from gesture_jax.features import extraction, token_store
from gesture_jax.infra import parallel, storage

PART_BYTES = 256 * 2**20
STORE_DIR = "tokens"


@dataclasses.dataclass(frozen=True)
class TokenRecipe:
    """Which tokens: the final ones (`layers` empty) or those blocks' outputs, pooled over `pool`
    patches ((1, 1): not pooled), stored in `dtype`."""

    layers: tuple[int, ...] = ()
    pool: tuple[int, int] = (1, 1)
    dtype: str = "float16"

    def __post_init__(self):
        if self.dtype not in token_store.DTYPES:
            raise ValueError(f"token dtype {self.dtype!r}; expected one of {token_store.DTYPES}")
        if len(self.pool) != 2 or min(self.pool) < 1:
            raise ValueError(f"token pool {self.pool}; expected two window sizes ≥ 1, e.g. (2, 2)")

    def key(self) -> dict[str, Any]:
        """What tells this recipe's cache entry apart from the vectors' and other recipes'."""
        return {"tokens": {"layers": list(self.layers), "pool": list(self.pool), "dtype": self.dtype}}

    def describe(self) -> str:
        which = f"outputs of blocks {list(self.layers)}" if self.layers else "final tokens"
        pooled = f", averaged over {self.pool[0]}×{self.pool[1]} patches" if self.pool != (1, 1) else ""
        return f"{which}{pooled}, every view kept, {self.dtype}"


def extract_tokens(
    extractor: extraction.Extractor,
    split: Split,
    *,
    cache_dir: str,
    meta: dict[str, Any],
    per_device_batch: int,
    num_threads: int = 4,
    about: dict[str, Any] | None = None,
) -> token_store.TokenStore:
    """The split's tokens as a finished store under `cache_dir`, extracted (or resumed) when absent.
    `extractor` keeps views (`Extractor(..., keep_views=dtype)`) and outputs a recipe's tokens
    (`models.token_layout.recipe_tokens`); `meta` is the cache key, with the recipe's `key()` in it."""
    if not extractor.keep_views:
        raise ValueError("token extraction needs an Extractor that keeps views (keep_views=<dtype>)")
    entry = os.path.join(cache_dir, extraction.cache_name(meta))
    folder = os.path.join(entry, STORE_DIR)
    if storage.exists(os.path.join(folder, token_store.STORE_FILE)):
        logging.info("tokens of %s: cached at %s", split.ref, folder)
        return token_store.TokenStore.open(folder)

    shape = extractor.output_shape()  # [V, L, N, D]
    per_video = math.prod(shape) * np.dtype(extractor.keep_views).itemsize
    global_batch = per_device_batch * extractor.mesh.devices.size
    chunk = max(1, PART_BYTES // (global_batch * per_video))
    layout = extraction.batch_layout(extractor, split, per_device_batch, chunk)
    # A part is complete once both its files are written (the index second).
    done = extraction.parts_done(folder, layout, lambda part: token_store.has_part(folder, part))
    done = int(parallel.broadcast_from_main(np.array(done)))
    if parallel.is_main_process():
        storage.write_json(os.path.join(entry, extraction.META_FILE), meta)
        storage.write_json(os.path.join(folder, extraction.LAYOUT_FILE), layout)
    sizes = [len(token_store.part_index(folder, i)[0]) for i in range(done)]
    start = time.perf_counter()
    for index, chunk_out in extraction.run_chunks(
        extractor, split, layout, first_part=done, num_threads=num_threads
    ):
        if parallel.is_main_process():
            token_store.write_part(
                folder, index, chunk_out.vectors, chunk_out.labels, chunk_out.ids, dtype=extractor.keep_views
            )
        sizes.append(len(chunk_out))
    if sum(sizes) != len(split):
        raise RuntimeError(f"extracted tokens of {sum(sizes)} videos for {len(split)} records of {split.ref}")
    if parallel.is_main_process():
        body = extraction.manifest(meta, extractor.spec, extractor.pooling, (len(split), shape[-1]), about)
        body.update(
            token_shape={"views": shape[0], "layers": shape[1], "tokens": shape[2], "channels": shape[3]},
            bytes_per_video=per_video,
            features_file=f"{STORE_DIR}/",
        )
        storage.write_json(os.path.join(entry, extraction.MANIFEST_FILE), body)
        token_store.finish(folder, sizes, shape, extractor.keep_views)  # last: marks the store complete
    parallel.barrier(f"tokens {folder}")
    elapsed = time.perf_counter() - start
    logging.info(
        "tokens of %s: %d videos × %s (%.1f MB) in %.1f s -> %s",
        split.ref,
        len(split),
        list(shape),
        len(split) * per_video / 1e6,
        elapsed,
        folder,
    )
    return token_store.TokenStore.open(folder)
