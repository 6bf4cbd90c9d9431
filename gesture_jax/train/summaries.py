"""Training logs: TensorBoard event files (tensorboardX's writer, no TensorFlow) and JSON-lines metrics.

Tags and steps are the training loop's (``train/loss``, ``val/accuracy``, ...). A resumed run opens a new
event file beside the old ones, and TensorBoard reads the directory as one run. In a bucket, which
tensorboardX cannot write to, events go to a local staging directory that is copied up at each flush.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
import time
from typing import Any, Mapping

import tensorboardX
from etils import epath

from gesture_jax.infra import storage

TENSORBOARD_DIR = "tensorboard"
METRICS_FILE = "metrics.jsonl"


def _json_number(value: Any) -> int | float:
    """Plain ints stay ints; numpy/JAX scalars become floats so json can write them."""
    return value if isinstance(value, int) and not isinstance(value, bool) else float(value)


class MetricsLog:
    """JSON lines ``{"step": s, "time": t, **metrics}``; appends (a resumed run continues the file)."""

    def __init__(self, path: str):
        self.path = path
        self._file = storage.AppendFile(path)

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        record = {"step": int(step), "time": time.time()}
        record.update({k: _json_number(v) for k, v in metrics.items()})
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()  # one line per write, so a killed run loses nothing

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @staticmethod
    def read(path: str) -> list[dict[str, Any]]:
        """All records; a torn last line (killed mid-write) is skipped."""
        records = []
        for line in storage.read_text(path).splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records


class EventLog:
    """Scalars into TensorBoard event files under `logdir` (local or a bucket)."""

    def __init__(self, logdir: str, *, flush_secs: int = 10):
        self.logdir = logdir
        self._staging = tempfile.mkdtemp(prefix="tensorboard-") if storage.is_remote(logdir) else None
        self._local = self._staging or logdir
        # tensorboardX names a file by the second and host; a resume in the same second would overwrite.
        suffix = f".{os.getpid()}.{time.time_ns()}"
        self._writer = tensorboardX.SummaryWriter(self._local, flush_secs=flush_secs, filename_suffix=suffix)

    @property
    def paths(self) -> list[str]:
        """This writer's event files, where they end up."""
        names = [os.path.basename(p) for p in glob.glob(os.path.join(self._local, "events.*"))]
        return sorted(os.path.join(self.logdir, n) for n in names)

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        for tag, value in values.items():
            self._writer.add_scalar(tag, float(value), global_step=int(step))

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._upload()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._upload()
            if self._staging:
                shutil.rmtree(self._staging, ignore_errors=True)

    def _upload(self) -> None:
        """Buckets cannot append: a staged event file is uploaded whole."""
        for path in glob.glob(os.path.join(self._staging, "events.*")) if self._staging else ():
            target = epath.Path(self.logdir) / os.path.basename(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(epath.Path(path).read_bytes())


class Summaries:
    """What the training loop logs to: TensorBoard and metrics.jsonl; a no-op when not `enabled`."""

    def __init__(self, workdir: str, *, enabled: bool):
        self.enabled = enabled
        self._events: EventLog | None = None
        self._metrics: MetricsLog | None = None
        if enabled:  # only process 0 writes, so the others must not create files either
            self._events = EventLog(os.path.join(workdir, TENSORBOARD_DIR))
            self._metrics = MetricsLog(os.path.join(workdir, METRICS_FILE))

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        self._events.scalars(metrics, step)
        self._metrics.write(step, metrics)

    def flush(self) -> None:
        if self.enabled:
            self._events.flush()

    def close(self) -> None:
        if self.enabled:
            self._events.close()
            self._metrics.close()

    def __enter__(self) -> Summaries:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
