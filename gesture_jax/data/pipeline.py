"""grain input pipelines: record → sampled frames → spatial views → per-process batches.

Evaluation batches are padded with masked rows so every process runs the same number of steps and each
shape compiles once. Frames leave the host as uint8 (4× less to copy); scaling and mean/std
normalisation happen on the device (`normalize_on_device`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterator, Mapping, Sequence

import grain
import jax.numpy as jnp
import numpy as np

from gesture_jax.data import frames as frames_lib
from gesture_jax.data import sampling, transforms
from gesture_jax.data.spec import VideoSpec

ID_BYTES = 128  # example ids travel with the batch as fixed-width bytes so they can be gathered on device


def view_shape(spec: VideoSpec) -> tuple[int, int, int, int, int]:
    """Shape [V, T, S, S, 3] of one example's views under `spec`."""
    if spec.crop != "none":
        size = spec.crop_size
    elif spec.resize in transforms.SQUASHES:
        size = spec.resize_size
    else:
        raise ValueError("the spec must fix the output size: set crop != 'none' or resize = 'squash'")
    return (spec.num_views, spec.num_frames, size, size, 3)


def check_spec(spec: VideoSpec) -> None:
    """Fails early (before any video is read) on a spec the sampler or transforms would reject."""
    view_shape(spec)
    if spec.num_clips > 1 and "clip" not in sampling.rule_params(spec.sampler):
        raise ValueError(f"sampler {spec.sampler!r} takes no clip index, so num_clips must be 1")
    for clip in range(spec.num_clips):
        sampling.frame_indices(spec.sampler, 4 * spec.num_frames, **spec.sampler_kwargs(clip))
    frame = np.zeros((1, 2 * spec.resize_size, 3 * spec.resize_size, 3), np.uint8)
    transforms.spatial_views(
        frame, resize=spec.resize, resize_size=spec.resize_size, crop=spec.crop, crop_size=spec.crop_size
    )


def encode_id(text: str | bytes) -> np.ndarray:
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if len(raw) > ID_BYTES:
        raise ValueError(f"example id longer than {ID_BYTES} bytes: {raw[:60]!r}...")
    return np.frombuffer(raw.ljust(ID_BYTES, b"\0"), np.uint8)


def decode_ids(rows: np.ndarray) -> np.ndarray:
    return np.array([bytes(r).rstrip(b"\0").decode() for r in rows])


def clip_views(
    record: Mapping[str, Any], spec: VideoSpec, *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """uint8 [V, T, S, S, 3]: every temporal clip × spatial crop of one record, decoding each frame once."""
    jpegs = record["frames"]
    if not len(jpegs):
        raise ValueError(f"record {_record_id(record)!r} has no frames")
    per_clip = clip_frame_indices(spec, len(jpegs), rng=rng)
    wanted = sorted({i for idx in per_clip for i in idx})
    decoded = {i: frames_lib.decode_frame(jpegs[i]) for i in wanted}  # each sampled frame decoded once
    return transforms.clip_views_of(
        decoded,
        per_clip,
        resize=spec.resize,
        resize_size=spec.resize_size,
        crop=spec.crop,
        crop_size=spec.crop_size,
    )


def clip_frame_indices(
    spec: VideoSpec, num_frames: int, *, rng: np.random.Generator | None = None
) -> list[list[int]]:
    """The frames each temporal clip of `spec` picks from a `num_frames`-frame video."""
    per_clip = []
    for clip in range(spec.num_clips):
        kwargs = spec.sampler_kwargs(clip)
        if rng is not None:
            kwargs["rng"] = rng
        per_clip.append(sampling.frame_indices(spec.sampler, num_frames, **kwargs))
    return per_clip


def _record_id(record: Mapping[str, Any]) -> str:
    value = record.get("id", record.get("path", b""))
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclasses.dataclass
class _EvalExample:
    """Global position → one padded/masked example. A class (not a lambda) so grain can pickle it."""

    source: Any
    spec: VideoSpec
    num_records: int
    global_batch: int
    row_start: int  # this process's first row in each global batch
    rows: int  # this process's rows per global batch

    def __call__(self, local_position: int) -> dict[str, np.ndarray]:
        index = global_position(local_position, self.global_batch, self.row_start, self.rows)
        if index >= self.num_records:  # padding: same shapes, masked out
            return {
                "video": np.zeros(view_shape(self.spec), np.uint8),
                "label": np.int32(-1),
                "index": np.int32(-1),
                "id": np.zeros(ID_BYTES, np.uint8),
                "mask": np.bool_(False),
            }
        record = self.source[index]
        return {
            "video": clip_views(record, self.spec),
            "label": np.int32(record["label"]),
            "index": np.int32(index),
            "id": encode_id(_record_id(record)),
            "mask": np.bool_(True),
        }


def global_position(local_position: int, global_batch: int, row_start: int, rows: int) -> int:
    """Position in the global sequence of this process's `local_position`-th example: process rows
    [row_start, row_start + rows) of each global batch (see `parallel.process_batch_slice`)."""
    batch, row = divmod(local_position, rows)
    return batch * global_batch + row_start + row


def num_eval_batches(num_records: int, global_batch: int) -> int:
    return math.ceil(num_records / global_batch)


def eval_batches(
    source: Sequence[Mapping[str, Any]],
    spec: VideoSpec,
    *,
    global_batch: int,
    row_start: int,
    rows: int,
    start_batch: int = 0,
    stop_batch: int | None = None,
    num_threads: int = 4,
    prefetch: int = 16,
) -> Iterator[dict[str, np.ndarray]]:
    """This process's rows of global batches [start_batch, stop_batch), in order, padded and masked.

    Global batch b holds records [b·global_batch, (b+1)·global_batch); this process yields rows
    [row_start, row_start + rows) of each (see `parallel.process_batch_slice`). Deterministic: a
    batch's content depends only on its position, so extraction can resume at any batch.
    """
    num_records = len(source)
    total = num_eval_batches(num_records, global_batch)
    stop_batch = total if stop_batch is None else min(stop_batch, total)
    fn = _EvalExample(source, spec, num_records, global_batch, row_start, rows)
    ds = grain.MapDataset.range(start_batch * rows, stop_batch * rows).map(fn)
    options = grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch)
    return iter(ds.to_iter_dataset(options).batch(rows, drop_remainder=True))


def normalize_on_device(video: jnp.ndarray, spec: VideoSpec) -> jnp.ndarray:
    """uint8 → float32 (x/255 − mean)/std, the same float32 operation order as the host reference."""
    mean = jnp.asarray(spec.mean, jnp.float32)
    std = jnp.asarray(spec.std, jnp.float32)
    return (video.astype(jnp.float32) / 255.0 - mean) / std
