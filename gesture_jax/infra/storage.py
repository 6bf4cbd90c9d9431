"""What a run leaves in its workdir: resolved config, log, and files written atomically.

Every file is written to a temporary name beside its target and renamed into place, so a killed run
never leaves a half-written result that a re-run would trust. Paths may be local or a bucket
(``gs://...``, through etils.epath): an object store shows an object only once its upload completed, so
there the object is written directly; appends become rewrites of the whole (small) object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import tempfile
import time
from typing import Any, Callable, Iterator

import numpy as np
from etils import epath

LOG_FILE = "log.txt"
CONFIG_FILE = "config.json"


def is_remote(path: str | os.PathLike) -> bool:
    """A bucket path (gs://, s3://, ...) rather than a local one."""
    return "://" in os.fspath(path)


def resolve(path: str) -> str:
    """An absolute local path (``~`` expanded), or a bucket path unchanged."""
    return path if is_remote(path) else os.path.abspath(os.path.expanduser(path))


def exists(path: str) -> bool:
    return epath.Path(path).exists()


def read_bytes(path: str) -> bytes:
    return epath.Path(path).read_bytes()


def read_text(path: str) -> str:
    return epath.Path(path).read_text()


def remove_tree(path: str) -> None:
    """Deletes a folder and what it holds, if it exists."""
    p = epath.Path(path)
    if p.exists():
        p.rmtree()


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary local path; on success it becomes `path` (renamed, or uploaded to a bucket)."""
    if is_remote(path):
        with tempfile.TemporaryDirectory() as tmp:
            staged = os.path.join(tmp, os.path.basename(path))
            yield staged
            epath.Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(staged, "rb") as f:
                epath.Path(path).write_bytes(f.read())
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes(path: str, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: str, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_npz(path: str, **arrays: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def write_with(path: str, writer: Callable[[str], None]) -> None:
    """Atomic write through a function that takes a file path (e.g. matplotlib's savefig)."""
    with atomic_path(path) as tmp:
        writer(tmp)


class AppendFile:
    """A text or binary file that grows by appends: a plain append locally; in a bucket, which cannot
    append, the whole content is rewritten at each `flush` (for logs and metrics, which stay small)."""

    def __init__(self, path: str, mode: str = "a"):
        if mode not in ("a", "ab"):
            raise ValueError(f"AppendFile mode is 'a' or 'ab', got {mode!r}")
        self.path, self._binary = path, mode == "ab"
        self.closed = False
        if is_remote(path):
            p = epath.Path(path)
            p.parent.mkdir(parents=True, exist_ok=True)
            self._content = bytearray(p.read_bytes() if p.exists() else b"")
            self._dirty = False
            self._file = None
        else:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self._file = open(path, mode)

    @property
    def is_local(self) -> bool:
        return self._file is not None

    def tell(self) -> int:
        return len(self._content) if self._file is None else self._file.tell()

    def write(self, data: str | bytes) -> None:
        if self._file is not None:
            self._file.write(data)
            return
        self._content += data if self._binary else data.encode()
        self._dirty = True

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()
        elif self._dirty:
            epath.Path(self.path).write_bytes(bytes(self._content))
            self._dirty = False

    def close(self) -> None:
        if not self.closed:
            self.flush()
            if self._file is not None:
                self._file.close()
            self.closed = True


class _AppendFileHandler(logging.StreamHandler):
    """logging's FileHandler, over an `AppendFile` (a bucket log is uploaded at most every few seconds)."""

    def __init__(self, path: str, upload_secs: float = 30.0):
        super().__init__(AppendFile(path))
        self.baseFilename = path
        self._upload_secs, self._last = upload_secs, 0.0

    def flush(self) -> None:
        if self.stream.is_local or time.monotonic() - self._last >= self._upload_secs:
            self.stream.flush()
            self._last = time.monotonic()

    def close(self) -> None:
        self.stream.close()
        super().close()


def setup_logging(workdir: str) -> None:
    """Mirrors every log record into ``<workdir>/log.txt`` (appending, so resumed runs keep history)."""
    path = os.path.join(resolve(workdir), LOG_FILE)
    root = logging.getLogger()
    if any(getattr(h, "baseFilename", None) == path for h in root.handlers):
        return
    handler = _AppendFileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s] %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def save_config(config, workdir: str) -> None:
    write_text(os.path.join(workdir, CONFIG_FILE), config.to_json_best_effort(indent=2) + "\n")


_OMIT_IF_NONE = "omit_if_none"


def optional():
    """A dataclass field that JSON leaves out while it is None (a typed value's optional entry)."""
    return dataclasses.field(default=None, metadata={_OMIT_IF_NONE: True})


def as_json_fields(obj: Any) -> dict[str, Any]:
    """A typed value (a dataclass) as JSON writes it: its fields by name, without unset `optional` ones."""
    fields = ((f, getattr(obj, f.name)) for f in dataclasses.fields(obj))
    return {f.name: v for f, v in fields if not (v is None and f.metadata.get(_OMIT_IF_NONE))}


def _json_default(obj: Any) -> Any:
    # Typed results (dataclasses) write their fields by name; nested values come back through here.
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return as_json_fields(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
