"""Checkpoint files built in tests without torch: torch.save-style zips (also malicious ones) and
safetensors files, shared by the reader and port tests."""

import collections
import io
import json
import pickle
import zipfile
from dataclasses import dataclass

import numpy as np


class Global:
    """Pickles as GLOBAL module.name without importing it (torch is not installed; os.system must not run)."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):
        raise AssertionError("never called")


@dataclass
class Storage:
    type_name: str
    key: str
    data: bytes
    numel: int


@dataclass
class Tensor:
    storage: Storage
    offset: int
    size: tuple
    stride: tuple


class _TorchStylePickler(pickle._Pickler):
    """Writes the opcodes torch.save writes: _rebuild_tensor_v2 calls over persistent storage records."""

    def __init__(self, file, protocol=2):
        super().__init__(file, protocol=protocol)
        self.storages: dict[str, Storage] = {}

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            self.storages[obj.key] = obj
            return ("storage", Global("torch", obj.type_name), obj.key, "cpu", obj.numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            rebuild = Global("torch._utils", "_rebuild_tensor_v2")
            return rebuild, (obj.storage, obj.offset, obj.size, obj.stride, False, collections.OrderedDict())
        return NotImplemented


def write_zip(path, obj, byteorder=b"little", protocol=2, drop_storage=False):
    buf = io.BytesIO()
    pickler = _TorchStylePickler(buf, protocol)
    pickler.dump(obj)
    storages = list(pickler.storages.values())[int(drop_storage) :]
    return write_pickle_zip(path, buf.getvalue(), byteorder, storages)


def write_pickle_zip(path, data: bytes, byteorder=b"little", storages=()):
    """A torch.save-style zip around the pickle bytes `data` (e.g. hand-written opcodes)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/byteorder", byteorder)
        archive.writestr("archive/version", "3\n")
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.data)
    return str(path)


def tensor(values: np.ndarray, key: str, type_name: str = "FloatStorage") -> Tensor:
    storage = Storage(type_name, key, values.tobytes(), values.size)
    strides = tuple(s // values.itemsize for s in values.strides)
    return Tensor(storage, 0, values.shape, strides)


class Pwn:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return self.fn, (self.arg,)


def write_safetensors(path, tensors, metadata=None, edit=None, tail=b""):
    """tensors: {name: (dtype, array)}, packed in order; edit(header) may corrupt the header."""
    header, data, offset = {}, b"", 0
    for name, (dtype, array) in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        data, offset = data + raw, offset + len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    if edit:
        edit(header)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data + tail)
    return path
