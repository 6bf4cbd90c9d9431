"""The globals a ``.pth`` pickle may name, and the inert values each one rebuilds.

A pickle rebuilds objects by calling the globals it names (GLOBAL/REDUCE, NEWOBJ, BUILD). Each allowed
name maps to a function or class of ours, never to the library it names, and none of them runs code or
sets attributes chosen by the file:

- tensors and storages become numpy arrays (stored dtype; bfloat16 widened to float32, which is exact);
- ``torch.Size`` becomes a tuple of non-negative ints (DeepSpeed's ``param_shapes``);
- ``set``/``frozenset`` are rebuilt from a list of plain values (protocol 2 pickles a set as
  ``__builtin__.set`` + REDUCE; DeepSpeed saves ``sparse_tensor_module_names=set()``);
- ``argparse.Namespace`` becomes `PickledNamespace` (VideoMAE/UMT saves keep their ``args``);
- ``easydict.EasyDict`` becomes a plain dict (InternVideo training saves keep their ``config``).

Every other name is refused by the unpickler before anything from the file is called.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# What the refusal message lists as allowed.
ALLOWED_DESCRIPTION = (
    "tensors, storages, torch.Size, OrderedDict, set/frozenset, argparse.Namespace, easydict.EasyDict "
    "and plain values"
)


def _refuse_state(self: Any, state: Any) -> None:
    """A BUILD opcode on a shared allow-list object must fail, not rewrite it for the whole process.

    Frozen slotted dataclasses need this explicitly: dataclasses gives them a ``__setstate__`` that sets
    their fields.
    """
    raise ValueError(f"a checkpoint may not set the state of {self!r}")


@dataclass(frozen=True, slots=True)
class StorageType:
    """What ``torch.<Name>Storage`` resolves to: a dtype tag."""

    name: str
    dtype: np.dtype
    bfloat16: bool = False
    __setstate__ = _refuse_state


@dataclass(frozen=True, slots=True)
class _Call:
    """An allowed callable, wrapped so a pickle cannot set attributes on our functions."""

    fn: Callable[..., Any]
    __setstate__ = _refuse_state

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


class PickledNamespace:
    """Inert stand-in for a pickled ``argparse.Namespace``.

    Official non-DeepSpeed saves keep the training arguments under ``'args'``. Refusing them would refuse
    those checkpoints, yet rebuilding a Namespace runs no code: unpickling only hands over its attribute
    dict, which this class stores (the values are themselves restricted by the allow-list).
    """

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or not all(
            isinstance(k, str) and not k.startswith("__") for k in state
        ):
            raise ValueError("argparse.Namespace state must be a dict of plain attribute names")
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return "PickledNamespace(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"


class _EasyDictStandIn(dict):
    """What NEWOBJ builds for ``easydict.EasyDict``; `plain_containers` turns it into a plain dict.

    Protocol 2 writes an EasyDict as NEWOBJ, SETITEMS (its items: the data) and BUILD with its
    ``__dict__``, an attribute view of the same items. The state is checked and discarded, so no
    attribute named by the file is ever set.
    """

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise ValueError(f"easydict.EasyDict state must be a dict of names, got {type(state).__name__}")


def plain_containers(obj: Any) -> Any:
    """`obj` with every EasyDict stand-in replaced by a plain dict; shared objects stay shared."""
    done: dict[int, Any] = {}

    def visit(x: Any) -> Any:
        if id(x) in done:
            return done[id(x)]
        if isinstance(x, _EasyDictStandIn):
            out = done[id(x)] = {}
            out.update((k, visit(v)) for k, v in x.items())
            return out
        if isinstance(x, dict):  # in place, so an OrderedDict keeps its class and _metadata
            done[id(x)] = x
            for k, v in list(x.items()):
                x[k] = visit(v)
        elif isinstance(x, list):
            done[id(x)] = x
            x[:] = [visit(v) for v in x]
        elif isinstance(x, tuple):
            done[id(x)] = tuple(visit(v) for v in x)
            return done[id(x)]
        elif isinstance(x, PickledNamespace):
            done[id(x)] = x
            for k, v in list(vars(x).items()):
                vars(x)[k] = visit(v)
        return x

    return visit(obj)


def _rebuild_tensor(storage: Any, storage_offset: int, size: Any, stride: Any, *_unused: Any) -> np.ndarray:
    """``torch._utils._rebuild_tensor[_v2]``: a contiguous copy of the strided view of ``storage``.

    Trailing arguments (requires_grad, backward_hooks, metadata) do not affect the values and are ignored.
    """
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise ValueError("a tensor's storage must come from a persistent 'storage' record")
    size, stride = tuple(size), tuple(stride)
    ints = (storage_offset, *size, *stride)
    if len(size) != len(stride) or not all(type(v) is int and v >= 0 for v in ints):
        raise ValueError(f"bad tensor geometry: offset {storage_offset}, size {size}, stride {stride}")
    if 0 in size:
        return np.zeros(size, storage.dtype)
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise ValueError(
            f"tensor of size {size}, stride {stride}, offset {storage_offset} overruns its storage"
        )
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:], shape=size, strides=[s * storage.itemsize for s in stride], writeable=False
    )
    return np.array(view, order="C")


def _rebuild_parameter(data: Any, *_unused: Any) -> Any:
    """``torch._utils._rebuild_parameter``: a Parameter is just its tensor here."""
    return data


def _torch_size(dims: Any = ()) -> tuple[int, ...]:
    """``torch.Size(dims)`` (pickled as REDUCE with a tuple of ints): the tuple itself."""
    if not isinstance(dims, (tuple, list)) or not all(type(d) is int and d >= 0 for d in dims):
        raise ValueError(f"torch.Size takes a tuple of non-negative ints, got {dims!r}")
    return tuple(dims)


def _set_of(kind: type) -> Callable[..., Any]:
    def rebuild(*args: Any) -> set | frozenset:
        if len(args) > 1 or (args and not isinstance(args[0], (list, tuple))):
            raise ValueError(f"{kind.__name__}() takes one list of values in a checkpoint, got {args!r}")
        return kind(*args)

    return rebuild


_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "BFloat16Storage": "<u2",  # raw bits, widened to float32 on load
    "DoubleStorage": "<f8",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}

# The only globals a .pth pickle may reference, keyed "module.name". Everything else is refused.
ALLOWED_GLOBALS: dict[str, Any] = {
    "torch._utils._rebuild_tensor_v2": _Call(_rebuild_tensor),
    "torch._utils._rebuild_tensor": _Call(_rebuild_tensor),
    "torch._utils._rebuild_parameter": _Call(_rebuild_parameter),
    "torch.Size": _Call(_torch_size),
    "collections.OrderedDict": collections.OrderedDict,
    "builtins.set": _Call(_set_of(set)),
    "builtins.frozenset": _Call(_set_of(frozenset)),
    "argparse.Namespace": PickledNamespace,
    "easydict.EasyDict": _EasyDictStandIn,
    **{
        f"torch.{name}": StorageType(name, np.dtype(dtype), name == "BFloat16Storage")
        for name, dtype in _STORAGE_DTYPES.items()
    },
}


def global_name(module: str, name: str) -> str:
    """The name a GLOBAL refers to; protocol 2 (torch.save's) spells ``builtins`` as ``__builtin__``."""
    return f"{'builtins' if module == '__builtin__' else module}.{name}"
