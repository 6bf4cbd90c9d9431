"""Read PyTorch ``.pth`` (torch.save zip) and safetensors checkpoints into numpy, without torch.

Nothing stored in a checkpoint is executed. The pickle inside a ``.pth`` goes through an unpickler that
resolves only the globals in ``pickle_allowlist.ALLOWED_GLOBALS`` (to inert stand-ins of ours) and refuses
every other one with ``UnsafeCheckpointError`` before anything from the file can be called. Safetensors
files (plain data, no code) are read with the ``safetensors`` package, whose checks of the header and
layout apply; its errors come back as ``CheckpointError`` naming the file. Tensors come back as
C-contiguous numpy arrays in their stored dtype (fp16 stays fp16; the caller casts), except bfloat16:
numpy has no such dtype, so it is widened to float32, which is exact.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from typing import Any

import ml_dtypes  # registers bfloat16 with numpy, which safetensors needs to return BF16 tensors
import numpy as np
import safetensors

from gesture_jax.ports import pickle_allowlist
from gesture_jax.ports.pickle_allowlist import StorageType

# A zip starts with a local file header, or with the end-of-directory record when it is empty.
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_EXPECTED = "a torch.save zip archive (torch >= 1.6) or a safetensors file"

PathLike = str | os.PathLike[str]


class CheckpointError(ValueError):
    """A checkpoint could not be read; the message names the file and what was expected."""


class UnsafeCheckpointError(CheckpointError):
    """The pickle references a global outside the allow-list; nothing from the file was run."""


def read_checkpoint(path: PathLike) -> dict[str, Any]:
    """Reads a ``.pth`` (torch.save zip) or safetensors file, chosen by content rather than by suffix.

    Returns the top-level object: for ``.pth`` the pickled dict (e.g. ``{'module': state_dict, ...}`` with
    plain Python values beside it), for safetensors the flat ``{name: array}`` dict.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] in _ZIP_MAGICS:
        obj = read_torch_zip(path)
        if not isinstance(obj, dict):
            raise CheckpointError(
                f"{path}: the pickled top-level object is a {type(obj).__name__}; expected a dict"
            )
        return obj
    if len(head) >= 9 and head[8:9] == b"{":
        return read_safetensors(path)
    raise CheckpointError(f"{path}: {_describe(head)}; expected {_EXPECTED}")


def _describe(head: bytes) -> str:
    if not head:
        return "the file is empty"
    if head[:1] == b"\x80":
        # Legacy torch.save writes bare pickles; unpickling one is exactly the risk this module avoids.
        return (
            "a bare pickle (legacy pre-1.6 torch.save format or plain pickle), which is not read; re-save it"
        )
    if head[257:262] == b"ustar":
        return "a tar archive (the oldest torch.save format), which is not read"
    return f"unrecognised content (first bytes {head[:8]!r})"


# ---------------------------------------------------------------------------------------------- torch zip


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 is the top half of a float32, so widening is a 16-bit shift (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles ``data.pkl``, resolving globals only through ``pickle_allowlist.ALLOWED_GLOBALS``."""

    def __init__(self, path: str, archive: zipfile.ZipFile, prefix: str):
        super().__init__(io.BytesIO(archive.read(prefix + "data.pkl")))
        self._path, self._archive, self._prefix = path, archive, prefix
        self._storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        qualified = pickle_allowlist.global_name(module, name)
        target = pickle_allowlist.ALLOWED_GLOBALS.get(qualified)
        if target is None:
            raise UnsafeCheckpointError(
                f"{self._path}: refusing the pickled global {qualified}; expected only "
                f"{pickle_allowlist.ALLOWED_DESCRIPTION} (nothing from the file ran)"
            )
        return target

    def persistent_load(self, pid: Any) -> np.ndarray:
        # torch.save writes ('storage', <torch.XStorage>, key, location, numel); numel counts elements.
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise CheckpointError(
                f"{self._path}: persistent id {pid!r}; expected ('storage', type, key, loc, numel)"
            )
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, StorageType) or not isinstance(key, str) or type(numel) is not int:
            raise CheckpointError(f"{self._path}: malformed storage record {pid!r}")
        if key not in self._storages:
            self._storages[key] = self._read_storage(storage_type, key, numel)
        return self._storages[key]

    def _read_storage(self, storage_type: StorageType, key: str, numel: int) -> np.ndarray:
        record = f"{self._prefix}data/{key}"
        try:
            raw = self._archive.read(record)
        except KeyError:
            raise CheckpointError(
                f"{self._path}: the storage record {record} is missing from the archive"
            ) from None
        needed = numel * storage_type.dtype.itemsize
        if numel < 0 or len(raw) < needed:
            raise CheckpointError(
                f"{self._path}: {record} holds {len(raw)} bytes; "
                f"expected {needed} ({numel} × {storage_type.name})"
            )
        storage = np.frombuffer(raw, storage_type.dtype, count=numel)
        return _bf16_to_f32(storage) if storage_type.bfloat16 else storage


def read_torch_zip(path: PathLike) -> Any:
    """Reads a torch.save zip (``<archive>/data.pkl`` + ``<archive>/data/<key>``) without torch.

    Returns the unpickled object with tensors as numpy arrays (stored dtype; bfloat16 → float32), plain
    values as themselves, ``torch.Size`` as a tuple, ``easydict.EasyDict`` as a dict and
    ``argparse.Namespace`` as ``PickledNamespace`` (see `pickle_allowlist`). Raises
    ``UnsafeCheckpointError`` for any other global, ``CheckpointError`` for a malformed or big-endian file.
    """
    path = os.fspath(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{path}: not a readable zip archive ({exc}); expected {_EXPECTED}") from exc
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError(
                f"{path}: found {len(pickles)} '<archive>/data.pkl' records; expected exactly one"
            )
        prefix = pickles[0].removesuffix("data.pkl")
        if prefix + "byteorder" in archive.namelist():  # absent in old files, which are little-endian
            order = archive.read(prefix + "byteorder").strip()
            if order != b"little":
                raise CheckpointError(
                    f"{path}: byteorder is {order!r}; only little-endian checkpoints are read"
                )
        try:
            return pickle_allowlist.plain_containers(_RestrictedUnpickler(path, archive, prefix).load())
        except CheckpointError:
            raise
        except Exception as exc:  # any failure inside the pickle means a malformed file
            raise CheckpointError(
                f"{path}: malformed {prefix}data.pkl ({type(exc).__name__}: {exc}); "
                "expected a torch.save pickle"
            ) from exc


# -------------------------------------------------------------------------------------------- safetensors


def read_safetensors(path: PathLike) -> dict[str, np.ndarray]:
    """Reads a safetensors file into ``{name: array}`` (stored dtype; BF16 → float32), in data-offset order.

    Data-offset order is the header order of every file the ``safetensors`` writers produce. The
    ``__metadata__`` strings are dropped. Raises ``CheckpointError`` naming the file for anything the
    package refuses (truncation, a bad or oversized header, overlapping or uncovered data) and for a
    dtype numpy cannot hold (the float8 and float4 kinds).
    """
    path = os.fspath(path)
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            return {name: _safetensors_tensor(path, f, name) for name in f.offset_keys()}
    except safetensors.SafetensorError as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc


def _safetensors_tensor(path: str, f: Any, name: str) -> np.ndarray:
    try:
        array = f.get_tensor(name)
    except safetensors.SafetensorError:
        raise
    except (AttributeError, TypeError, ValueError) as exc:  # e.g. it looks up np.float8_e4m3fn, absent
        raise CheckpointError(
            f"{path}: tensor {name!r} has dtype {f.get_slice(name).get_dtype()}, which is not read "
            f"({type(exc).__name__}: {exc}); expected a dtype numpy holds, or BF16"
        ) from exc
    if array.dtype == ml_dtypes.bfloat16:
        return _bf16_to_f32(array.view(np.uint16))
    return array
