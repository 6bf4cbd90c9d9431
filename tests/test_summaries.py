"""Training logs: event files decode as TFRecords of Event protos; JSON lines round-trip and append."""

import glob
import os
import socket
import struct

import numpy as np
import pytest

from gesture_jax.train import summaries


def _crc32c_bitwise(data: bytes) -> int:
    """An independent CRC32C (bit at a time, no table) to check the writer's framing against."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _crc32c_bitwise(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _read_records(path: str) -> list[bytes]:
    """TFRecord framing, with both CRCs checked."""
    with open(path, "rb") as f:
        data = f.read()
    records, pos = [], 0
    while pos < len(data):
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8 : pos + 12])
        assert length_crc == _masked(header), "length CRC"
        payload = data[pos + 12 : pos + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[pos + 12 + length : pos + 16 + length])
        assert payload_crc == _masked(payload), "data CRC"
        records.append(payload)
        pos += 16 + length
    assert pos == len(data)
    return records


def _fields(message: bytes) -> list[tuple[int, int | float | bytes]]:
    """Protobuf wire decoding: (field number, raw value); fixed64 as double, fixed32 as float."""
    out, pos = [], 0

    def varint() -> int:
        nonlocal pos
        value, shift = 0, 0
        while True:
            byte = message[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while pos < len(message):
        key = varint()
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value = varint()
        elif wire_type == 1:
            (value,) = struct.unpack("<d", message[pos : pos + 8])
            pos += 8
        elif wire_type == 2:
            length = varint()
            value = message[pos : pos + length]
            pos += length
        elif wire_type == 5:
            (value,) = struct.unpack("<f", message[pos : pos + 4])
            pos += 4
        else:
            raise AssertionError(f"unexpected wire type {wire_type}")
        out.append((field, value))
    return out


def _decode_event(payload: bytes) -> dict:
    event = {"step": 0, "values": {}}
    for field, value in _fields(payload):
        if field == 1:
            event["wall_time"] = value
        elif field == 2:
            event["step"] = value
        elif field == 3:
            event["file_version"] = value.decode()
        elif field == 5:
            for summary_field, summary_value in _fields(value):
                assert summary_field == 1  # Summary.value
                parts = dict(_fields(summary_value))
                event["values"][parts[1].decode()] = parts[2]
    return event


def _events(logdir: str) -> list[dict]:
    (path,) = glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    return [_decode_event(record) for record in _read_records(path)]


def test_crc32c_known_answers():
    assert summaries.crc32c(b"123456789") == 0xE3069283
    assert summaries.crc32c(b"") == 0
    assert summaries.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720, B.4
    data = bytes(range(256)) * 3
    assert summaries.crc32c(data) == _crc32c_bitwise(data)


def test_event_file(tmp_path):
    logdir = str(tmp_path / "tb")
    with summaries.EventFileWriter(logdir) as writer:
        writer.scalar("loss", 2.5, step=0)
        writer.scalars({"loss": 1.25, "lr": 1e-3}, step=10)
        writer.scalar("big_step", -1.0, step=2**40)
    name = os.path.basename(writer.path)
    assert name.startswith("events.out.tfevents.") and name.endswith("." + socket.gethostname())

    first, *rest = _events(logdir)
    assert first["file_version"] == "brain.Event:2" and not first["values"]
    assert [(e["step"], e["values"]) for e in rest] == [
        (0, {"loss": 2.5}),
        (10, {"loss": 1.25, "lr": pytest.approx(1e-3)}),
        (2**40, {"big_step": -1.0}),
    ]
    assert all(e["wall_time"] > 1.6e9 for e in rest)


def test_corrupt_record_is_detected(tmp_path):
    logdir = str(tmp_path / "tb")
    with summaries.EventFileWriter(logdir) as writer:
        writer.scalar("loss", 1.0, step=1)
    with open(writer.path, "r+b") as f:
        f.seek(-6, os.SEEK_END)  # inside the last record's data
        byte = f.read(1)
        f.seek(-6, os.SEEK_END)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(AssertionError, match="data CRC"):
        _read_records(writer.path)


def test_metrics_log_round_trip_and_append(tmp_path):
    path = str(tmp_path / "sub" / "metrics.jsonl")
    with summaries.MetricsLog(path) as log:
        log.write(1, {"loss": 0.5, "epoch": 0})
    with summaries.MetricsLog(path) as log:  # a resumed run
        log.write(2, {"loss": 0.25})
    records = summaries.MetricsLog.read(path)
    assert [{k: v for k, v in r.items() if k != "time"} for r in records] == [
        {"step": 1, "loss": 0.5, "epoch": 0},
        {"step": 2, "loss": 0.25},
    ]
    assert records[0]["time"] <= records[1]["time"]


def test_summaries_write_both(tmp_path):
    with summaries.Summaries(str(tmp_path), enabled=True) as logs:
        logs.write(5, {"train/loss": np.float32(0.75), "train/acc": 0.5})
    (event,) = _events(str(tmp_path / "tensorboard"))[1:]
    assert event["step"] == 5 and event["values"] == {"train/loss": 0.75, "train/acc": 0.5}
    (record,) = summaries.MetricsLog.read(str(tmp_path / "metrics.jsonl"))
    assert record["step"] == 5 and record["train/loss"] == 0.75 and record["train/acc"] == 0.5


def test_disabled_summaries_create_nothing(tmp_path):
    workdir = tmp_path / "run"
    logs = summaries.Summaries(str(workdir), enabled=False)
    logs.write(1, {"loss": 1.0})
    logs.flush()
    logs.close()
    assert not workdir.exists()
