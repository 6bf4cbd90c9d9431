"""TFDS datasets by name: ``"<builder>/<config>:<split>"`` → a random-access grain source.

Our builders live in the top-level ``tfds_builders`` package and need no TensorFlow; this module imports
none of them: the entry points register them with ``tfds_builders.register_all()`` (Python code that
opens a dataset calls it first). Reading goes through ``tfds.data_source`` (array_record), never
``tf.data``. Building takes a file lock next to the dataset, so that processes sharing a local
``data_dir`` (one task per GPU) build each dataset once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import logging
import os
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np
import tensorflow_datasets as tfds

from gesture_jax.infra import parallel


class _UnbuiltIsNoNews(logging.Filter):
    """TFDS warns about each unbuilt version folder it looks into; the build that follows (or the error
    naming the missing dataset) says what happens, so these warnings only add noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "has no dataset_info.json" not in record.getMessage()


logging.getLogger("absl").addFilter(_UnbuiltIsNoNews())


@dataclasses.dataclass(frozen=True)
class SplitRef:
    dataset: str  # "<builder>/<config>", e.g. "toy_gestures/real"
    split: str  # e.g. "test"

    @classmethod
    def parse(cls, text: str) -> "SplitRef":
        dataset, sep, split = text.partition(":")
        if not sep or not dataset or not split or "/" not in dataset:
            raise ValueError(f"expected a split as '<builder>/<config>:<split>', got {text!r}")
        return cls(dataset, split)

    def __str__(self) -> str:
        return f"{self.dataset}:{self.split}"


@dataclasses.dataclass(frozen=True)
class Split:
    ref: SplitRef
    source: Any  # ArrayRecordDataSource: len() and [i]
    class_names: tuple[str, ...]
    version: str

    def __len__(self) -> int:
        return len(self.source)


def builder(dataset: str, data_dir: str | None = None) -> tfds.core.DatasetBuilder:
    return _tfds_builder(dataset, data_dir)


def _tfds_builder(dataset: str, data_dir: str | None, **builder_kwargs: Any) -> tfds.core.DatasetBuilder:
    """``tfds.builder``, with an error naming `dataset` and how builders get registered when TFDS has
    no such builder (and no built copy in `data_dir` to read without one)."""
    try:
        return tfds.builder(dataset, data_dir=data_dir or None, file_format="array_record", **builder_kwargs)
    except tfds.core.registered.DatasetNotFoundError:
        raise tfds.core.registered.DatasetNotFoundError(
            f"dataset {dataset!r}: TFDS has no builder of that name registered (and no built copy in "
            f"{data_dir or 'its default data_dir'}). The builders of tfds_builders are registered by the "
            "entry points (gesture_jax.main, gesture_jax.data.build) through tfds_builders.register_all(); "
            "from Python, call it first. An entry point logs each builder that could not be registered."
        ) from None


def build(
    dataset: str,
    data_dir: str | None = None,
    *,
    manual_dir: str | None = None,
    builder_kwargs: dict[str, Any] | None = None,
) -> tfds.core.DatasetBuilder:
    """Builds (downloads and prepares) `dataset` into `data_dir`; a no-op when already built.

    In a local `data_dir`, the build holds an exclusive lock next to the dataset: a process that finds
    another one building it waits, then uses that build (it logs which one it did).
    """
    kwargs = builder_kwargs or {}
    b = _tfds_builder(dataset, data_dir, **kwargs)
    if b.is_prepared():
        logging.info("%s is already built in %s", dataset, b.data_dir)
        return b
    with _build_lock(dataset, b):
        b = _tfds_builder(dataset, data_dir, **kwargs)  # afresh: another process may have built it
        if b.is_prepared():
            logging.info("%s was built in %s by another process", dataset, b.data_dir)
            return b
        logging.info("building %s into %s", dataset, b.data_dir)
        config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
        b.download_and_prepare(download_config=config)
    return b


@contextlib.contextmanager
def _build_lock(dataset: str, b: tfds.core.DatasetBuilder) -> Iterator[None]:
    """An exclusive ``flock`` on ``<data_dir>/<builder>/<config>.lock`` (``<data_dir>/<builder>.lock``
    without configs), for a local data_dir; none for a bucket, where the lock would not hold."""
    folder = os.path.dirname(str(b.data_dir))  # the data_dir's <builder>/<config>, above the version
    if "://" in folder:
        yield
        return
    try:
        os.makedirs(os.path.dirname(folder), exist_ok=True)
    except OSError as e:
        raise OSError(
            f"cannot build {dataset} in {os.path.dirname(os.path.dirname(folder))} ({e.strerror or e}): "
            "name a writable data directory (--config.data.data_dir, or --data_dir)"
        ) from None
    # The file stays: removing it while another process waits on it would let a third one in.
    fd = os.open(folder + ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logging.info("waiting for another process building %s into %s", dataset, b.data_dir)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            logging.warning("no file locks in %s (%s): building %s without one", folder, e, dataset)
        yield
    finally:
        os.close(fd)  # releases the lock


def open_split(
    text: str, data_dir: str | None = None, *, build_if_missing: bool = False, manual_dir: str | None = None
) -> Split:
    """Opens a built split for random access; builds the dataset first if asked and absent."""
    ref = SplitRef.parse(text)
    b = builder(ref.dataset, data_dir)
    if not b.is_prepared() and not build_if_missing:
        raise FileNotFoundError(
            f"dataset {ref.dataset} is not built in {b.data_dir}; build it with: python -m "
            f"gesture_jax.data.build {ref.dataset} --data_dir {data_dir or '<your data_dir>'}"
        )
    # Every process takes the same branch (it holds barriers), decided by all of them together.
    if build_if_missing and parallel.any_process(not b.is_prepared()):
        if jax.process_index() == 0 and not b.is_prepared():
            build(ref.dataset, data_dir, manual_dir=manual_dir)
        parallel.barrier(f"build {ref.dataset}")
        b = builder(ref.dataset, data_dir)
        if not b.is_prepared():  # a host whose data_dir is its own disk (TPU workers): its own copy
            logging.info("building %s into this host's %s", ref.dataset, b.data_dir)
            build(ref.dataset, data_dir, manual_dir=manual_dir)
            b = builder(ref.dataset, data_dir)
        parallel.barrier(f"build {ref.dataset} on every host")
    if ref.split not in b.info.splits:
        raise ValueError(f"dataset {ref.dataset} has no split {ref.split!r}; it has {sorted(b.info.splits)}")
    source = b.as_data_source(split=ref.split)
    names = tuple(b.info.features["label"].names)
    return Split(ref, source, names, str(b.info.version))


def split_labels(split: Split, num_threads: int = 8) -> np.ndarray:
    """The label of every record, in order (reads each record once; used to select classes)."""
    return split_metadata(split, ["label"], num_threads)["label"].astype(np.int64)


def split_metadata(split: Split, fields, num_threads: int = 8, indices=None) -> dict[str, np.ndarray]:
    """Per-record values of `fields` (nested ones as "params.lead_arm"), in record order, of every
    record or of the records at `indices` (e.g. a few nearest neighbours in a large gallery).

    A field the split's records do not hold is an error naming the split and the fields they do hold.
    """
    from concurrent.futures import ThreadPoolExecutor

    fields = list(fields)
    indices = range(len(split)) if indices is None else [int(i) for i in indices]
    if not fields or not len(indices):
        return {f: np.array([]) for f in fields}

    def lookup(record, field):
        value = record
        for part in field.split("."):
            if not isinstance(value, dict) or part not in value:
                raise KeyError(field)
            value = value[part]
        return value.decode() if isinstance(value, bytes) else value

    try:
        first = split.source[0]
        for field in fields:
            lookup(first, field)
    except KeyError as e:
        known = sorted(_flat_names(first))
        raise KeyError(f"{split.ref}: records have no field {e.args[0]!r}; they have {known}") from None

    with ThreadPoolExecutor(num_threads) as pool:
        records = list(pool.map(lambda i: [lookup(split.source[i], f) for f in fields], indices))
    return {f: np.array([r[j] for r in records]) for j, f in enumerate(fields)}


def _flat_names(record: dict, prefix: str = "") -> list[str]:
    names = []
    for key, value in record.items():
        if isinstance(value, dict):
            names += _flat_names(value, f"{prefix}{key}.")
        elif not isinstance(value, (list, np.ndarray)) or np.ndim(value) == 0:
            names.append(prefix + key)
    return names
