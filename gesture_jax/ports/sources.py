"""Where a family's reference weights come from, by checkpoint format (`registry.Family.checkpoint`):

* ``torch``: one ``.pth`` (torch.save zip, read without running its pickle) or ``.safetensors`` file; the
  state dict is taken out of its container by the official loaders' rule (`state_dict`);
* ``hf``: a folder as transformers' ``save_pretrained`` writes it: ``config.json`` beside
  ``model.safetensors`` or the shards a ``model.safetensors.index.json`` lists;
* ``videoprism_npz``: one ``.npz`` as the official VideoPrism code saves its variables (flat names joined
  by ``/``, e.g. ``params/spatial_pos_emb/emb_var``), read with numpy and no pickles; the model config
  comes from ``--model_config`` (the official constructor's arguments).

`read` returns the tensors by their names in the checkpoint, the reference config when the format has
one, and the files read (for ``model.json``'s provenance and ``--verify``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from gesture_jax.ports import readers


class PortError(ValueError):
    """A checkpoint that does not fit the model: names every offending key."""


class SourceError(PortError):
    """A checkpoint source that is not what its format needs: names the path and what was expected."""


@dataclasses.dataclass
class Source:
    tensors: dict[str, np.ndarray]  # by their names in the checkpoint
    state_key: str | None  # torch: the top-level entry they came from (None: the file itself)
    config: dict[str, Any] | None  # hf: config.json
    files: list[str]  # every file read, in reading order


def _read_torch(path: str, state_key: str | None, preferred: tuple[str, ...] = ()) -> Source:
    if os.path.isdir(path):
        raise SourceError(f"{path} is a folder; this family converts one .pth or .safetensors file")
    tensors, chosen = state_dict(readers.read_checkpoint(path), path, state_key, preferred)
    return Source(tensors, chosen, None, [path])


def _read_hf(path: str, state_key: str | None, preferred: tuple[str, ...] = ()) -> Source:
    if state_key is not None:
        raise SourceError("--state_key applies to .pth files; a transformers folder has one state dict")
    return _read_hf_folder(path)


def _read_videoprism_npz(path: str, state_key: str | None, preferred: tuple[str, ...] = ()) -> Source:
    if state_key is not None:
        raise SourceError("--state_key applies to .pth files; a VideoPrism .npz has one set of variables")
    return Source(read_npz(path), None, None, [path])


# Checkpoint format (a family's `registry.Family.checkpoint`) -> its reader (path, --state_key, the
# family's own top-level keys to look under first) -> Source.
# A family in a new format adds one reader here; conversion and --verify read through `read`.
READERS: dict[str, Callable[[str, str | None, tuple[str, ...]], Source]] = {
    "torch": _read_torch,
    "hf": _read_hf,
    "videoprism_npz": _read_videoprism_npz,
}
FORMATS = tuple(READERS)


def read(fmt: str, path: str, state_key: str | None = None, preferred: tuple[str, ...] = ()) -> Source:
    """`preferred`: top-level keys a family's releases keep their weights under (V-JEPA 2.1's
    ``ema_encoder``), looked for before the official loaders' ``model`` and ``module``."""
    if fmt not in READERS:
        raise SourceError(f"unknown checkpoint format {fmt!r}; known: {FORMATS}")
    return READERS[fmt](path, state_key, preferred)


def _read_hf_folder(path: str) -> Source:
    if not os.path.isdir(path):
        raise SourceError(
            f"{path} is not a folder; expected a transformers save_pretrained folder "
            "(config.json + model.safetensors)"
        )
    config_file = os.path.join(path, "config.json")
    single = os.path.join(path, "model.safetensors")
    index = os.path.join(path, "model.safetensors.index.json")
    if not os.path.isfile(config_file) or not (os.path.isfile(single) or os.path.isfile(index)):
        raise SourceError(
            f"{path}: expected config.json and model.safetensors (or model.safetensors.index.json with "
            f"its shards); the folder holds {sorted(os.listdir(path))}"
        )
    with open(config_file) as f:
        config = json.load(f)
    if os.path.isfile(single):
        return Source(readers.read_safetensors(single), None, config, [config_file, single])
    with open(index) as f:
        weight_map = json.load(f).get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise SourceError(f"{index}: no 'weight_map' of tensor name → shard file")
    tensors: dict[str, np.ndarray] = {}
    files = [config_file, index]
    for shard in sorted(set(weight_map.values())):
        file = os.path.join(path, shard)
        part = readers.read_safetensors(file)
        listed = {name for name, s in weight_map.items() if s == shard}
        if set(part) != listed:
            raise SourceError(
                f"{file}: holds {len(part)} tensors, {index} lists {len(listed)} for it "
                f"(unlisted: {sorted(set(part) - listed)[:5]}, absent: {sorted(listed - set(part))[:5]})"
            )
        tensors.update(part)
        files.append(file)
    return Source(tensors, None, config, files)


def read_npz(path: str) -> dict[str, np.ndarray]:
    """{name: array} of an ``.npz`` (``np.savez``), read without unpickling anything."""
    if os.path.isdir(path):
        raise SourceError(f"{path} is a folder; this family converts one .npz file")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise SourceError(f"{path}: a single .npy array, expected an .npz of named variables")
        with z:
            return {name: z[name] for name in z.files}
    except SourceError:
        raise
    except (ValueError, OSError, EOFError) as e:
        raise SourceError(f"{path}: not a readable .npz of numeric arrays ({e})") from e


def digest(files: list[str]) -> str:
    """sha256 of the one file read, or of the sorted (name, sha256) lines of several."""
    if len(files) == 1:
        return file_sha256(files[0])
    lines = sorted(f"{os.path.basename(f)} {file_sha256(f)}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def file_sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()  # streamed in chunks


def _is_tensor_dict(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, np.ndarray) for v in value.values())


def state_dict(
    obj: Any, path: str, state_key: str | None = None, preferred: tuple[str, ...] = ()
) -> tuple[dict[str, np.ndarray], str | None]:
    """(the state dict, the top-level key it came from or None for the file itself).

    Default: the official loaders' rule, ``ckpt["model"]``, else ``ckpt["module"]``, else the dict itself.
    A file may hold several weight sets (``model`` and ``model_ema``): then a warning names them all and
    the one used, and `state_key` picks another.
    """
    if not isinstance(obj, dict):
        raise PortError(f"{path}: expected a state dict (or one under 'model'/'module'), got {type(obj)}")
    candidates = [k for k, v in obj.items() if _is_tensor_dict(v)]
    if state_key is not None:
        if state_key not in candidates:
            raise PortError(
                f"{path}: no state dict under {state_key!r}; the file's state dicts are under "
                f"{candidates or 'no key (the file is itself one)'} (top-level keys: {list(obj)})"
            )
        chosen = state_key
    else:
        chosen = next((k for k in (*preferred, "model", "module") if isinstance(obj.get(k), dict)), None)
    sd = obj if chosen is None else obj[chosen]
    bad = sorted(str(k) for k, v in sd.items() if not isinstance(v, np.ndarray))
    if bad:
        hint = f"; --state_key picks one of the file's state dicts: {candidates}" if candidates else ""
        raise PortError(f"{path}: the state dict holds non-tensor entries: {bad}{hint}")
    if len(candidates) > 1:
        note = f"{path} holds {len(candidates)} state dicts, under {candidates}; using {chosen!r}"
        if state_key is None:
            logging.warning("%s (--state_key picks another)", note)
        else:
            logging.info("%s", note)
    return sd, chosen
