"""What a run leaves in its workdir: resolved config, log, and files written atomically.

Every file is written to a temporary name beside its target and renamed into place, so a killed run
never leaves a half-written result that a re-run would trust.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
from typing import Any, Callable, Iterator

import numpy as np

LOG_FILE = "log.txt"
CONFIG_FILE = "config.json"


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary path in the target's folder; renames it onto `path` only on success."""
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


def setup_logging(workdir: str) -> None:
    """Mirrors every log record into ``<workdir>/log.txt`` (appending, so resumed runs keep history)."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, LOG_FILE)
    root = logging.getLogger()
    if any(getattr(h, "baseFilename", None) == os.path.abspath(path) for h in root.handlers):
        return
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s] %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def save_config(config, workdir: str) -> None:
    write_text(os.path.join(workdir, CONFIG_FILE), config.to_json_best_effort(indent=2) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
