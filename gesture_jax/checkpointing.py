"""Every Orbax call of the project: parameter trees of converted encoders (and, later, training state).

Trees are nested dicts with string keys (block indices as "0", "1", ...), as Orbax stores them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from orbax.checkpoint import v1 as ocp


def save_params(path: str, flat: dict[str, np.ndarray]) -> None:
    """Writes {dotted.path: array} as an Orbax pytree checkpoint at `path` (which must not exist)."""
    ocp.save_pytree(os.path.abspath(path), nest(flat))


def load_params(path: str) -> dict[str, np.ndarray]:
    """{dotted.path: numpy array} from `save_params`."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no parameter checkpoint at {path}")
    return flatten(ocp.load_pytree(os.path.abspath(path)))


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        node = tree
        *parents, leaf = path.split(".")
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return tree


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for name, value in tree.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = np.asarray(value)
    return flat
