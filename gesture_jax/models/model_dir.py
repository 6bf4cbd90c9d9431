"""The converted-model directory: what ``python -m gesture_jax.convert`` and mode pretrain write and
`gesture_jax.models.load` reads.

    <dir>/model.json   format_version, family, encoder (a registered name or null), model_config,
                       spec (the input protocol), source (where the weights came from)
    <dir>/params/      Orbax pytree of the trained parameters, float32, by dotted NNX path

Derived arrays (fixed position tables) are not stored: each family's ``buffers`` rebuilds them. Fields
are only ever added to ``model.json``, so older directories stay readable at the same version. Ports
(`gesture_jax.ports`) write this format through this module; nothing here imports them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

import numpy as np

from gesture_jax.infra import checkpointing, storage

MODEL_JSON = "model.json"
PARAMS_DIR = "params"
FORMAT_VERSION = 1


def read_meta(path: str) -> dict[str, Any]:
    """``model.json`` of the directory at `path`, its format version checked."""
    file = os.path.join(path, MODEL_JSON)
    if not storage.exists(file):
        raise FileNotFoundError(
            f"{path} is not a converted model directory: no {MODEL_JSON} "
            "(make one with python -m gesture_jax.convert)"
        )
    meta = json.loads(storage.read_text(file))
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{file}: format_version {meta.get('format_version')}, expected {FORMAT_VERSION}")
    return meta


def read_params(path: str) -> dict[str, np.ndarray]:
    """{dotted path: array} of the directory's stored parameters."""
    return checkpointing.load_params(os.path.join(path, PARAMS_DIR))


def write(dst: str, params: dict[str, np.ndarray], meta: dict[str, Any], overwrite: bool) -> None:
    """Builds the directory beside `dst` and renames it into place, so `dst` is never half written."""
    parent = os.path.dirname(os.path.abspath(dst))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(dst)}.")
    try:
        checkpointing.save_params(os.path.join(tmp, PARAMS_DIR), params)
        storage.write_json(os.path.join(tmp, MODEL_JSON), meta)
        if overwrite and os.path.exists(dst):
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
