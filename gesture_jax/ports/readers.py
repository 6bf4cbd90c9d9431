"""Read PyTorch ``.pth`` (torch.save zip) and safetensors checkpoints into numpy, without torch.

Nothing stored in a checkpoint is executed. The pickle inside a ``.pth`` goes through an unpickler that
resolves only the globals in ``pickle_allowlist.ALLOWED_GLOBALS`` (to inert stand-ins of ours) and refuses
every other one with ``UnsafeCheckpointError`` before anything from the file can be called. Tensors come
back as C-contiguous numpy arrays in their stored dtype (fp16 stays fp16; the caller casts), except
bfloat16: numpy has no such dtype, so it is widened to float32, which is exact.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import zipfile
from typing import Any

import numpy as np

from gesture_jax.ports import pickle_allowlist
from gesture_jax.ports.pickle_allowlist import StorageType

# A zip starts with a local file header, or with the end-of-directory record when it is empty.
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # the limit the reference safetensors implementation enforces
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

_SAFETENSORS_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",  # raw bits, widened to float32 on load
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def read_safetensors(path: PathLike) -> dict[str, np.ndarray]:
    """Reads a safetensors file into ``{name: array}`` (stored dtype; BF16 → float32), in header order.

    Layout: an 8-byte little-endian header length, a JSON header ``{name: {dtype, shape, data_offsets}}``
    (plus an optional ``__metadata__`` of strings, dropped here), then the packed tensor bytes.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        entries, data_start = _safetensors_header(path, f, size)
        data_size = size - data_start
        out = {}
        expected_begin = 0
        for name, dtype, bf16, shape, begin, end in sorted(entries, key=lambda e: e[4]):
            if begin != expected_begin:
                raise CheckpointError(
                    f"{path}: tensor {name!r} starts at data offset {begin}; expected {expected_begin} "
                    "(tensors must be packed without gaps or overlaps)"
                )
            if end > data_size:
                raise CheckpointError(
                    f"{path}: truncated; tensor {name!r} needs data bytes [{begin}, {end}) "
                    f"but the data section holds {data_size}"
                )
            array = np.empty(shape, dtype)
            f.seek(data_start + begin)
            if f.readinto(memoryview(array.reshape(-1).view(np.uint8))) != end - begin:
                raise CheckpointError(f"{path}: truncated while reading tensor {name!r}")
            out[name] = _bf16_to_f32(array) if bf16 else array
            expected_begin = end
    if expected_begin != data_size:
        raise CheckpointError(
            f"{path}: the data section holds {data_size} bytes but the header indexes {expected_begin}"
        )
    return {e[0]: out[e[0]] for e in entries}


def _safetensors_header(path: str, f: io.BufferedReader, size: int) -> tuple[list[tuple], int]:
    """Parses and checks the header: (name, dtype, is_bf16, shape, begin, end) rows and the data start."""
    if size < 8:
        raise CheckpointError(
            f"{path}: truncated ({size} bytes); expected an 8-byte safetensors header length"
        )
    header_len = int.from_bytes(f.read(8), "little")
    if header_len > min(size - 8, _MAX_SAFETENSORS_HEADER):
        raise CheckpointError(
            f"{path}: header length {header_len} does not fit the {size}-byte file; "
            "expected a safetensors file"
        )
    try:
        header = json.loads(f.read(header_len))
    except ValueError as exc:
        raise CheckpointError(f"{path}: the safetensors header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise CheckpointError(
            f"{path}: the safetensors header is a {type(header).__name__}; expected an object"
        )
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: __metadata__ must map strings to strings")
    entries = []
    for name, spec in header.items():
        if not isinstance(spec, dict) or spec.get("dtype") not in _SAFETENSORS_DTYPES:
            raise CheckpointError(
                f"{path}: tensor {name!r} has entry {spec!r}; "
                f"expected a dtype in {sorted(_SAFETENSORS_DTYPES)}"
            )
        shape, offsets = spec.get("shape"), spec.get("data_offsets")
        if not _int_list(shape) or not _int_list(offsets) or len(offsets) != 2 or offsets[0] > offsets[1]:
            raise CheckpointError(
                f"{path}: tensor {name!r} has shape {shape!r}, data_offsets {offsets!r}; "
                "expected lists of non-negative ints, offsets [begin, end] with begin <= end"
            )
        dtype = np.dtype(_SAFETENSORS_DTYPES[spec["dtype"]])
        nbytes = math.prod(shape) * dtype.itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise CheckpointError(
                f"{path}: tensor {name!r} spans {offsets[1] - offsets[0]} bytes; expected {nbytes} "
                f"({spec['dtype']} {shape})"
            )
        entries.append((name, dtype, spec["dtype"] == "BF16", tuple(shape), offsets[0], offsets[1]))
    return entries, 8 + header_len


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and all(type(v) is int and v >= 0 for v in value)
