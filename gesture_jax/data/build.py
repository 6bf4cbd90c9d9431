"""Builds TFDS datasets of ``tfds_builders`` without TensorFlow (the ``tfds build`` CLI needs TF).

python -m gesture_jax.data.build toy_gestures/synthetic toy_gestures/real --data_dir ~/tensorflow_datasets
"""

from __future__ import annotations

import logging
import time

from absl import app, flags

from gesture_jax.data import datasets

_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory (default: TFDS's own default).")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "Folder holding manually downloaded source files.")


def main(argv: list[str]) -> None:
    names = argv[1:]
    if not names:
        raise app.UsageError("name at least one dataset, e.g. toy_gestures/synthetic")
    for name in names:
        start = time.perf_counter()
        b = datasets.build(name, _DATA_DIR.value, manual_dir=_MANUAL_DIR.value)
        counts = ", ".join(f"{s} {info.num_examples}" for s, info in sorted(b.info.splits.items()))
        logging.info("%s: built in %.1f s at %s (%s)", name, time.perf_counter() - start, b.data_dir, counts)
        print(f"{name}: {counts} -> {b.data_dir}")


if __name__ == "__main__":
    app.run(main)
