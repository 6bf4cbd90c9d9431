"""TFDS dataset builders of the project, one package each; importing a builder's package registers it.

``import tfds_builders`` registers nothing, and ``gesture_jax`` imports no builder. The entry points
(``gesture_jax.main``, ``gesture_jax.data.build``, the tests' ``conftest.py``, the bench scripts that
open datasets) call `register_all` before opening a dataset; so does Python code that opens one with
``gesture_jax.data.datasets``. A builder that fails to import is reported, not raised, so that it
breaks only the datasets it builds.

No builder may import TensorFlow: they are prepared with ``file_format="array_record"`` and
read with ``tfds.data_source``.
"""

from __future__ import annotations

import importlib

BUILDERS = (
    "rocog_v2",
    "toy_gestures",
    "toy_motions",
)  # packages under tfds_builders, named as their TFDS builder


def register_all() -> dict[str, BaseException]:
    """Imports (so registers with TFDS) every builder of `BUILDERS`, each on its own.

    Returns {builder: the exception its import raised} for those that failed (empty when all are
    registered); the others are registered either way. Calling it again costs nothing.
    """
    failures: dict[str, BaseException] = {}
    for name in BUILDERS:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except Exception as e:  # any error of one builder's code must not stop the others
            failures[name] = e
    return failures
