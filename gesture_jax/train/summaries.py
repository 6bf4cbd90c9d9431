"""Training logs: TensorBoard event files (written without TensorFlow) and a JSON-lines metrics file.

Event files are TFRecords of ``tensorflow.Event`` protos. The few fields we need are encoded by hand in
the protobuf wire format, so neither TensorFlow nor generated proto classes are needed at run time.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from typing import Any, Mapping

from gesture_jax import storage

# --- CRC32C (Castagnoli), as TFRecord framing requires. ---------------------------------------------


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # reflected Castagnoli polynomial
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC32C of `data`; a byte-at-a-time table loop, fast enough for scalar records."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: a CRC of data that itself holds CRCs is otherwise weak."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
    """One TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


# --- Protobuf wire format, just the field kinds an Event needs. --------------------------------------

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s are encoded as their 64-bit two's complement
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint((field << 3) | wire_type)


def _int_field(field: int, value: int) -> bytes:
    return _key(field, _VARINT) + _varint(value)


def _bytes_field(field: int, value: bytes) -> bytes:
    return _key(field, _BYTES) + _varint(len(value)) + value


def _double_field(field: int, value: float) -> bytes:
    return _key(field, _FIXED64) + struct.pack("<d", value)


def _float_field(field: int, value: float) -> bytes:
    return _key(field, _FIXED32) + struct.pack("<f", value)


def _event(wall_time: float, step: int = 0, *, file_version: str = "", summary: bytes = b"") -> bytes:
    """Event{wall_time = 1, step = 2, file_version = 3, summary = 5}."""
    out = _double_field(1, wall_time) + _int_field(2, step)
    if file_version:
        out += _bytes_field(3, file_version.encode())
    if summary:
        out += _bytes_field(5, summary)
    return out


def _summary(values: Mapping[str, float]) -> bytes:
    """Summary{repeated Value value = 1}, Value{tag = 1, simple_value = 2}."""
    return b"".join(
        _bytes_field(1, _bytes_field(1, tag.encode()) + _float_field(2, float(value)))
        for tag, value in values.items()
    )


# --- Writers. -----------------------------------------------------------------------------------------


class EventFileWriter:
    """Appends scalar summaries to a TensorBoard event file in `logdir`, flushing every `flush_secs`."""

    def __init__(self, logdir: str, *, flush_secs: float = 10.0):
        now = time.time()
        self.path = os.path.join(logdir, f"events.out.tfevents.{int(now)}.{socket.gethostname()}")
        self._file = storage.AppendFile(self.path, "ab")
        self._flush_secs = flush_secs
        self._last_flush = now
        if self._file.tell() == 0:  # a restart within the same second appends to the same file
            self._file.write(tfrecord(_event(now, file_version="brain.Event:2")))
            self.flush()

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars({tag: value}, step)

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        if not values:
            return
        now = time.time()
        self._file.write(tfrecord(_event(now, int(step), summary=_summary(values))))
        if now - self._last_flush >= self._flush_secs:
            self.flush()

    def flush(self) -> None:
        self._file.flush()
        self._last_flush = time.time()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()

    def __enter__(self) -> EventFileWriter:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


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


TENSORBOARD_DIR = "tensorboard"
METRICS_FILE = "metrics.jsonl"


class Summaries:
    """What the training loop logs to: TensorBoard and metrics.jsonl; a no-op when not `enabled`."""

    def __init__(self, workdir: str, *, enabled: bool):
        self.enabled = enabled
        self._events: EventFileWriter | None = None
        self._metrics: MetricsLog | None = None
        if enabled:  # only process 0 writes, so the others must not create files either
            self._events = EventFileWriter(os.path.join(workdir, TENSORBOARD_DIR))
            self._metrics = MetricsLog(os.path.join(workdir, METRICS_FILE))

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        values = {k: float(v) for k, v in metrics.items()}
        self._events.scalars(values, step)
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
