"""The training input pipeline: endless shuffled epochs of augmented clips, per-process rows of each batch.

Everything is a pure function of (seed, global position). Epoch e visits `indices` in the order
``default_rng([seed, 0, e]).permutation(indices)``; the global sequence is epoch 0's order, then epoch 1's ...
and global batch b holds positions [b·global_batch, (b+1)·global_batch), so batches run across epoch
boundaries and none is dropped. The example at position p is sampled and augmented with
``default_rng([seed, 1, p])``. Hence thread count, process count and resume point never change a batch, and
the iterator's checkpoint state is one integer (see `train_dataset`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import grain
import numpy as np

from gesture_jax.data import frames as frames_lib
from gesture_jax.data import pipeline, sampling
from gesture_jax.data.augment import AugmentConfig, augment
from gesture_jax.data.spec import VideoSpec

# grain's MapDataset needs a length; this many epochs is "endless" for any run while keeping positions
# global (a `.repeat()` of one epoch would restart positions, and with them the random streams).
MAX_EPOCHS = 10**6


def epoch_order(indices: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The record indices of epoch `epoch`, in the order they are trained on."""
    # Key [seed, 0, e], not [seed, e]: SeedSequence ignores trailing zeros, so [seed, 1] would be the
    # stream of the example at position 0, [seed, 1, 0].
    return np.random.default_rng([seed, 0, epoch]).permutation(indices)


@dataclasses.dataclass
class _TrainExample:
    """Local position → one augmented example. A class (not a lambda) so grain can pickle it."""

    source: Any
    spec: VideoSpec
    augment: AugmentConfig
    seed: int
    indices: np.ndarray
    label_map: Mapping[int, int] | None
    global_batch: int
    row_start: int  # this process's first row in each global batch
    rows: int  # this process's rows per global batch
    # (epoch, its order): threads swap in a whole tuple, so a reader never sees a mismatched pair.
    _last: tuple[int, np.ndarray] | None = dataclasses.field(default=None, init=False, repr=False)

    def record_index(self, position: int) -> int:
        epoch, offset = divmod(position, len(self.indices))
        last = self._last
        if last is None or last[0] != epoch:
            last = self._last = (epoch, epoch_order(self.indices, self.seed, epoch))
        return int(last[1][offset])

    def __call__(self, local_position: int) -> dict[str, np.ndarray]:
        position = pipeline.global_position(local_position, self.global_batch, self.row_start, self.rows)
        record = self.source[self.record_index(position)]
        rng = np.random.default_rng([self.seed, 1, position])
        jpegs = record["frames"]
        picked = sampling.frame_indices("tsn_train", len(jpegs), num_frames=self.spec.num_frames, rng=rng)
        video = augment(frames_lib.decode_frames(jpegs, picked), self.spec.crop_size, self.augment, rng)
        return {"video": video, "label": np.int32(self._label(int(record["label"])))}

    def _label(self, label: int) -> int:
        if self.label_map is None:
            return label
        if label not in self.label_map:
            raise ValueError(f"label {label} has no entry in label_map {self.label_map} (a held-out class?)")
        return self.label_map[label]


def train_dataset(
    source: Sequence[Mapping[str, Any]],
    spec: VideoSpec,
    augment: AugmentConfig,
    *,
    seed: int,
    global_batch: int,
    row_start: int,
    rows: int,
    indices: np.ndarray | None = None,
    label_map: dict[int, int] | None = None,
    num_threads: int = 4,
    prefetch: int = 16,
) -> grain.IterDataset:
    """This process's rows [row_start, row_start + rows) of every global batch, for MAX_EPOCHS epochs.

    Each batch: ``video`` uint8 [rows, T, S, S, 3] (T = spec.num_frames, S = spec.crop_size; TSN training
    sampling, one random frame per segment, then `augment`), ``label`` int32 [rows] (through `label_map`
    when given). `indices` (default: all records) are the records trained on, e.g. without held-out
    classes. ``it = iter(ds)`` checkpoints with ``it.get_state()`` / ``it.set_state(state)``; the state is
    ``{"next_index": k·rows}`` after k batches, whatever the thread count.
    """
    indices = np.arange(len(source)) if indices is None else np.asarray(indices, np.int64)
    if not len(indices):
        raise ValueError("no records to train on")
    if not (0 <= row_start and 0 < rows and row_start + rows <= global_batch):
        raise ValueError(
            f"rows [{row_start}, {row_start + rows}) do not fit a global batch of {global_batch}"
        )
    fn = _TrainExample(source, spec, augment, seed, indices, label_map, global_batch, row_start, rows)
    num_batches = len(indices) * MAX_EPOCHS // global_batch
    options = grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch)
    ds = grain.MapDataset.range(num_batches * rows).map(fn)
    return ds.to_iter_dataset(options).batch(rows, drop_remainder=True)


def heldout_split(labels: np.ndarray, heldout: Sequence[int]) -> tuple[np.ndarray, dict[int, int], list[int]]:
    """(record indices to train on, {kept label: 0..K−1 in original order}, kept labels) without `heldout`.

    Classes are those 0..max(labels); the unseen-class protocol trains on the rest and tests on all.
    """
    labels = np.asarray(labels)
    num_classes = int(labels.max()) + 1 if len(labels) else 0
    held = {int(c) for c in heldout}
    if unknown := sorted(held - set(range(num_classes))):
        raise ValueError(
            f"held-out class(es) {unknown} not among the {num_classes} classes 0..{num_classes - 1}"
        )
    kept = [c for c in range(num_classes) if c not in held]
    if not kept:
        raise ValueError(f"holding out {sorted(held)} leaves no class to train on")
    train = np.flatnonzero(np.isin(labels, kept))
    return train, {c: k for k, c in enumerate(kept)}, kept
