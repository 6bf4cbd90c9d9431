"""The file format every builder of the project prepares by default: array_record, readable without
TensorFlow through ``tfds.data_source``."""

from __future__ import annotations

import tensorflow_datasets as tfds


def default_to_array_record(builder: tfds.core.DatasetBuilder, file_format) -> None:
    """Call at the end of a builder's ``__init__``. TFDS has no class-level default file format (its
    global default is tfrecord, which needs TensorFlow to read): array_record unless the caller chose a
    format or the dataset was already prepared on disk (then its dataset_info.json decides)."""
    if file_format is None:
        try:
            builder.info.set_file_format("array_record", override=True)
        except RuntimeError:  # restored from an existing dataset_info.json: keep its format
            pass
