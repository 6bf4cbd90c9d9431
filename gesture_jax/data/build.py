"""Builds TFDS datasets of ``tfds_builders`` without TensorFlow (the ``tfds build`` CLI needs TF).

python -m gesture_jax.data.build toy_gestures/synthetic toy_gestures/real --data_dir ~/tensorflow_datasets
python -m gesture_jax.data.build rocog_v2/real_ground --data_dir D --manual_dir M [--skip_bad_videos]
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any

import tensorflow_datasets as tfds
from absl import app, flags

from gesture_jax.data import datasets
from gesture_jax.infra import cli

_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory (default: TFDS's own default).")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "Folder holding manually downloaded source files.")
_SKIP_BAD_VIDEOS = flags.DEFINE_boolean(
    "skip_bad_videos", False, "Leave out (and record) undecodable videos instead of stopping (rocog_v2)."
)
_FRAME_SHORT_SIDE = flags.DEFINE_integer(
    "frame_short_side",
    None,
    "Short side of the stored frames (rocog_v2; default: the builder's, 224).",
    lower_bound=1,
)


def builder_kwargs(name: str, **flag_values: Any) -> dict[str, Any]:
    """Flags that were set -> constructor arguments of `name`'s builder; a flag it lacks is an error."""
    kwargs = {k: v for k, v in flag_values.items() if v is not None and v is not False}
    try:
        cls = tfds.builder_cls(name.split("/")[0])
    except tfds.core.registered.DatasetNotFoundError:
        import tfds_builders

        ours = ", ".join(tfds_builders.BUILDERS)
        raise app.UsageError(f"no dataset builder is registered for {name} (our builders: {ours})") from None
    accepted = inspect.signature(cls.__init__).parameters
    unknown = [f"--{k}" for k in kwargs if k not in accepted]
    if unknown:
        raise app.UsageError(f"{', '.join(unknown)} does not apply to {name}")
    return kwargs


def register_builders(names: list[str]) -> None:
    """Registers the builders of ``tfds_builders``; one of `names` whose builder fails is an error."""
    import tfds_builders

    failures = tfds_builders.register_all()
    asked = {name.split("/")[0] for name in names}
    for builder, error in failures.items():
        if builder not in asked:
            logging.warning("dataset builder %s could not be registered: %r", builder, error)
    broken = [f"{b}: {e!r}" for b, e in failures.items() if b in asked]
    if broken:
        raise app.UsageError(f"dataset builder could not be registered (import failed): {'; '.join(broken)}")


def main(argv: list[str]) -> None:
    names = argv[1:]
    if not names:
        raise app.UsageError("name at least one dataset, e.g. toy_gestures/synthetic")
    register_builders(names)
    flag_values = {"skip_bad_videos": _SKIP_BAD_VIDEOS.value, "frame_short_side": _FRAME_SHORT_SIDE.value}
    kwargs = {name: builder_kwargs(name, **flag_values) for name in names}  # all checked before building
    for name in names:
        start = time.perf_counter()
        b = datasets.build(name, _DATA_DIR.value, manual_dir=_MANUAL_DIR.value, builder_kwargs=kwargs[name])
        counts = ", ".join(f"{s} {info.num_examples}" for s, info in sorted(b.info.splits.items()))
        logging.info("%s: built in %.1f s at %s (%s)", name, time.perf_counter() - start, b.data_dir, counts)
        print(f"{name}: {counts} -> {b.data_dir}")
        metadata = dict(b.info.metadata.items()) if b.info.metadata is not None else {}
        for line in metadata.get("build_notes", []):  # the builder's summary (rocog_v2)
            print(f"{name}: {line}")
        for split, paths in sorted(metadata.get("skipped_videos", {}).items()):
            if paths:
                print(f"{name}: skipped in {split}: {', '.join(paths)}")


if __name__ == "__main__":
    cli.entry_point(main, __doc__)
