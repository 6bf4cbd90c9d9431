"""Feature extraction: one jit-compiled step over the device mesh, cached on disk, resumable in chunks.

Features are the hand-off between the expensive part (encoders over videos) and the cheap part (KNN,
zero-shot, curves). A cache entry is keyed by everything that determines it (encoder, weights, dtype,
dataset version, split, sampling and preprocessing), so every experiment that needs the same features
extracts them once. Extraction writes a part file every `chunk_batches` batches; a killed run resumes
at the first missing part. Beside each entry's features sits ``manifest.json``: what produced them in
words a reader can check (encoder, checkpoint file and sha256, frames, sampler, resize, crop, views,
mean/std, pooling, dtype, dataset version and split, count), so a number in a paper can be traced back.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from etils import epath
from flax import nnx
from tqdm import tqdm

from gesture_jax.data import pipeline
from gesture_jax.data.datasets import Split
from gesture_jax.data.spec import VideoSpec
from gesture_jax.infra import parallel, storage

FEATURES_FILE = "features.npz"
META_FILE = "meta.json"
LAYOUT_FILE = "layout.json"  # batch layout of the part files, so a resume never mixes two layouts
MANIFEST_FILE = "manifest.json"


@dataclasses.dataclass
class VideoVectors:
    """One vector per video of a split: an encoder's features, or a classifier head's logits."""

    vectors: np.ndarray  # [N, D] float32, row i = record i (a token part in run_chunks: [n, V, ...])
    labels: np.ndarray  # [N] int32
    ids: np.ndarray  # [N] str

    def __len__(self) -> int:
        return len(self.labels)

    def save(self, path: str) -> None:
        # Stored under "features" (the name caches were written with), whatever the vectors hold.
        storage.write_npz(path, features=self.vectors, labels=self.labels, ids=self.ids)

    @classmethod
    def load(cls, path: str) -> "VideoVectors":
        with epath.Path(path).open("rb") as f, np.load(f) as z:
            return cls(z["features"], z["labels"], z["ids"])

    def take(self, index: np.ndarray) -> "VideoVectors":
        """The videos at `index` (positions, or a boolean mask over the videos), in that order."""
        return VideoVectors(self.vectors[index], self.labels[index], self.ids[index])

    @classmethod
    def concatenate(cls, parts: list["VideoVectors"]) -> "VideoVectors":
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls)))


class Extractor:
    """An encoder compiled for one mesh: uint8 views in, view-averaged float32 features out (or, with
    `keep_views`, every view's output in that dtype: tokens for a token store).

    `output` picks what is computed per view (default the encoder's `features`; a classifier's logits
    for head evaluation)."""

    def __init__(
        self,
        model: nnx.Module,
        spec: VideoSpec,
        mesh: jax.sharding.Mesh,
        output: Callable[[nnx.Module, jax.Array], jax.Array] | None = None,
        output_name: str = "",
        *,
        keep_views: str = "",
    ):
        """`output_name` says in words what a custom `output` computes (for the cache manifest).
        `keep_views`: "" averages the views' outputs (float32 [B, D]); a dtype name ("float16") keeps
        them, [B, V, *output shape] in that dtype (tokens: half the bytes to the host)."""
        pipeline.check_spec(spec)
        self.spec = spec
        self.mesh = mesh
        self.keep_views = keep_views
        describe = getattr(model, "describe_feature", None)
        self.pooling = output_name or (describe() if output is None and describe else "custom output")
        graphdef, state = nnx.split(model)
        self._graphdef = graphdef
        self._state = jax.device_put(state, parallel.replicated(mesh))

        def outputs(state, video):
            model = nnx.merge(graphdef, state)
            b, v = video.shape[:2]
            x = pipeline.normalize_on_device(video.reshape(b * v, *video.shape[2:]), spec)
            out = model.features(x) if output is None else output(model, x)
            if keep_views:
                return out.reshape(b, v, *out.shape[1:]).astype(keep_views)
            return out.astype(jnp.float32).reshape(b, v, -1).mean(axis=1)  # multi-view test: average views

        @functools.partial(jax.jit, out_shardings=parallel.replicated(mesh))
        def step(state, batch):
            out = outputs(state, batch["video"])
            return {"features": out, **{k: batch[k] for k in ("label", "id", "mask")}}

        self._outputs = outputs
        self._output_shape: tuple[int, ...] | None = None
        self._step = step

    def output_shape(self) -> tuple[int, ...]:
        """One video's output shape ([D], or [V, ...] keeping views), traced, not computed (frames of
        the crop size, or of the resize size without a crop)."""
        if self._output_shape is None:  # the same for any weights set_model swaps in: traced once
            s = self.spec
            size = s.crop_size if s.crop != "none" else s.resize_size
            video = jax.ShapeDtypeStruct((1, s.num_views, s.num_frames, size, size, 3), jnp.uint8)
            self._output_shape = tuple(jax.eval_shape(self._outputs, self._state, video).shape[1:])
        return self._output_shape

    @property
    def model(self) -> nnx.Module:
        """The encoder with the weights this extractor computes with now (after any `set_model`)."""
        return nnx.merge(self._graphdef, self._state)

    def set_model(self, model: nnx.Module) -> None:
        """New weights for the same architecture, without compiling again (e.g. during training)."""
        graphdef, state = nnx.split(model)
        if graphdef != self._graphdef:
            raise ValueError("set_model needs a model of the same structure as the one compiled")
        self._state = jax.device_put(state, parallel.replicated(self.mesh))

    def __call__(self, local_batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        batch = {
            k: parallel.global_batch_from_local(v, self.mesh) for k, v in local_batch.items() if k != "index"
        }
        return self._step(self._state, batch)


def cache_key(
    *,
    encoder: str,
    weights: dict[str, Any],
    init_seed: int,
    dtype: str,
    split: Split,
    spec: VideoSpec,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything that determines a split's vectors under an encoder (the cache entry's identity)."""
    return {
        "encoder": encoder,
        "checkpoint": weights.get("model_json_sha256", ""),
        "init_seed": init_seed,
        "dtype": dtype,
        "dataset": split.ref.dataset,
        "version": split.version,
        "split": split.ref.split,
        "num_records": len(split),
        "spec": spec.to_dict(),
        **(extra or {}),  # e.g. fine-tuned weights' checksum, or "head logits"
    }


def weights_provenance(checkpoint: str, init_seed: int) -> dict[str, Any]:
    """Where an encoder's weights came from: the converted directory and its source file, or a seed.

    A converted checkpoint is identified by its model.json (source file, size, config), not its path:
    ``model_json_sha256`` is part of every cache key.
    """
    if not checkpoint:
        return {"random_init_seed": init_seed}
    raw = storage.read_bytes(os.path.join(checkpoint, "model.json"))
    source = json.loads(raw).get("source", {})
    return {
        "checkpoint_dir": checkpoint,
        "source_file": source.get("name") or os.path.basename(source.get("file", "")),
        "source_bytes": source.get("bytes"),
        "source_sha256": source.get("sha256"),  # None: converted before convert recorded it
        "model_json_sha256": hashlib.sha256(raw).hexdigest(),
    }


def manifest(meta: dict[str, Any], spec: VideoSpec, pooling: str, shape: tuple[int, int], about=None) -> dict:
    """The cache entry described for a reader; `shape` is (videos, feature size); `meta` (the cache key)
    is kept whole at the end."""
    sampler_params = {k: v for k, v in spec.sampler_kwargs(0).items() if k != "clip"}
    return {
        "count": shape[0],
        "feature_dim": shape[1],
        "encoder": meta.get("encoder"),
        **(about or {}),
        "dtype": meta.get("dtype", "float32"),
        "pooling": pooling,
        "frames": spec.num_frames,
        "sampler": spec.sampler,
        "sampler_params": sampler_params,
        "temporal_clips": spec.num_clips,
        "resize": spec.resize,
        "resize_size": spec.resize_size,
        "crop": spec.crop,
        "crop_size": spec.crop_size,
        "views": spec.num_views,
        "views_pooled": "mean of the views' outputs" if spec.num_views > 1 else "one view",
        "mean": list(spec.mean),
        "std": list(spec.std),
        "dataset": meta.get("dataset"),
        "dataset_version": meta.get("version"),
        "split": meta.get("split"),
        "features_file": FEATURES_FILE,
        "cache_key": meta,
    }


def cache_name(meta: dict[str, Any]) -> str:
    """Readable and unique: '<encoder>__<dataset>_<split>__<hash of everything>'."""
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:12]
    readable = f"{meta['encoder']}__{meta['dataset']}_{meta['split']}"
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', readable)}__{digest}"


def extract(
    extractor: Extractor,
    split: Split,
    *,
    cache_dir: str | None,
    meta: dict[str, Any],
    per_device_batch: int,
    chunk_batches: int = 50,
    num_threads: int = 4,
    about: dict[str, Any] | None = None,
) -> VideoVectors:
    """Features of every record of `split`, from the cache when present, else extracted and cached.

    `cache_dir=None` computes them without touching the disk (e.g. a model that changes every call).
    `about` adds provenance to the manifest that is not part of the cache key (e.g. the source file).
    """
    entry = os.path.join(cache_dir, cache_name(meta)) if cache_dir else None
    final = os.path.join(entry, FEATURES_FILE) if entry else None
    if final and storage.exists(final):
        logging.info("features of %s: cached at %s", split.ref, entry)
        result = VideoVectors.load(final)
        if parallel.is_main_process() and not storage.exists(os.path.join(entry, MANIFEST_FILE)):
            _write_manifest(entry, meta, extractor, result, about)  # entries cached before manifests
        return result

    layout = batch_layout(extractor, split, per_device_batch, chunk_batches)
    parts_dir = os.path.join(entry, "parts") if entry else None
    if entry:
        done = parts_done(parts_dir, layout, lambda part: storage.exists(_part_path(parts_dir, part)))
        done = int(parallel.broadcast_from_main(np.array(done)))
    else:
        done = 0
    if entry and parallel.is_main_process():
        storage.write_json(os.path.join(entry, META_FILE), meta)
        storage.write_json(os.path.join(parts_dir, LAYOUT_FILE), layout)
    parts = [VideoVectors.load(_part_path(parts_dir, i)) for i in range(done)]
    start_time = time.perf_counter()
    for index, chunk in run_chunks(extractor, split, layout, first_part=done, num_threads=num_threads):
        parts.append(chunk)
        if entry and parallel.is_main_process():
            chunk.save(_part_path(parts_dir, index))

    result = VideoVectors.concatenate(parts)
    if len(result) != len(split):
        raise RuntimeError(f"extracted {len(result)} features for {len(split)} records of {split.ref}")
    if entry and parallel.is_main_process():
        _write_manifest(entry, meta, extractor, result, about)
        result.save(final)  # last: its presence marks a complete entry
        storage.remove_tree(parts_dir)
    elapsed = time.perf_counter() - start_time
    logging.info(
        "features of %s: %s in %.1f s (%.1f clips/s) -> %s",
        split.ref,
        result.vectors.shape,
        elapsed,
        len(split) / max(elapsed, 1e-9),
        entry,
    )
    return result


def batch_layout(extractor: Extractor, split: Split, per_device_batch: int, chunk_batches: int) -> dict:
    """How a split is cut into batches and part files; a resume reuses parts only under the same one."""
    global_batch = per_device_batch * extractor.mesh.devices.size
    return {"num_records": len(split), "global_batch": global_batch, "chunk_batches": chunk_batches}


def run_chunks(
    extractor: Extractor, split: Split, layout: dict[str, int], *, first_part: int, num_threads: int
) -> Iterator[tuple[int, VideoVectors]]:
    """The extraction loop, shared by vectors and tokens: (part index, its videos' outputs on the host)
    for every part of `layout` from `first_part` on. Device results are read back once per part, so
    the device never waits on the host; every process yields the same parts."""
    mesh = extractor.mesh
    global_batch, chunk_batches = layout["global_batch"], layout["chunk_batches"]
    row_start, rows = parallel.process_batch_slice(global_batch, mesh)
    total = pipeline.num_eval_batches(len(split), global_batch)
    first_batch = first_part * chunk_batches
    logging.info(
        "extracting %s: %d videos, %d batches of %d on %d devices%s",
        split.ref,
        len(split),
        total,
        global_batch,
        mesh.devices.size,
        f" (resuming at batch {first_batch})" if first_part else "",
    )
    bar = tqdm(
        total=len(split),
        initial=min(first_batch * global_batch, len(split)),
        unit="clip",
        desc=f"{'tokens' if extractor.keep_views else 'features'} {split.ref}",
        dynamic_ncols=True,
        disable=not parallel.is_main_process(),
    )
    batches = pipeline.eval_batches(
        split.source,
        extractor.spec,
        global_batch=global_batch,
        row_start=row_start,
        rows=rows,
        start_batch=first_batch,
        num_threads=num_threads,
    )
    pending, part = [], first_part
    for batch_index, local in enumerate(batches, start=first_batch):
        pending.append(extractor(local))
        bar.update(min(global_batch, len(split) - batch_index * global_batch))
        if (batch_index + 1) % chunk_batches == 0 or batch_index + 1 == total:
            yield part, _collect(pending)
            pending, part = [], part + 1
    bar.close()


def _write_manifest(entry: str, meta, extractor: Extractor, result: VideoVectors, about) -> None:
    storage.write_json(
        os.path.join(entry, MANIFEST_FILE),
        manifest(meta, extractor.spec, extractor.pooling, result.vectors.shape, about),
    )


def _part_path(parts_dir: str, index: int) -> str:
    return os.path.join(parts_dir, f"{index:05d}.npz")


def parts_done(folder: str, layout: dict[str, int], complete: Callable[[int], bool]) -> int:
    """How many leading parts a killed run left in `folder` that this run can reuse: none if they were
    written under another batch layout, else those for which `complete(part)` holds, in order."""
    try:
        if json.loads(storage.read_text(os.path.join(folder, LAYOUT_FILE))) != layout:
            logging.warning("ignoring parts in %s: written with another batch layout", folder)
            return 0
    except FileNotFoundError:
        return 0
    done = 0
    while complete(done):
        done += 1
    return done


def _collect(pending: list[dict[str, jax.Array]]) -> VideoVectors:
    host = [{k: parallel.to_host(v) for k, v in out.items()} for out in pending]
    mask = np.concatenate([h["mask"] for h in host])
    return VideoVectors(
        vectors=np.concatenate([h["features"] for h in host])[mask],
        labels=np.concatenate([h["label"] for h in host])[mask].astype(np.int32),
        ids=pipeline.decode_ids(np.concatenate([h["id"] for h in host])[mask]),
    )
