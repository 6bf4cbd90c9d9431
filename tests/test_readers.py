"""Checkpoint readers: fixture .pth == .safetensors, a refused malicious pickle runs nothing, clear errors.
(What the pickle allow-list rebuilds, from real training saves too: test_pickle_allowlist.py.)"""

import argparse
import collections
import json
import os
import pickle
import random
import re
import zipfile

import numpy as np
import pytest
from checkpoint_files import Global, Pwn, Storage, Tensor, tensor, write_safetensors, write_zip

from gesture_jax.ports import pickle_allowlist
from gesture_jax.ports.pickle_allowlist import PickledNamespace
from gesture_jax.ports.readers import (
    CheckpointError,
    UnsafeCheckpointError,
    read_checkpoint,
    read_safetensors,
    read_torch_zip,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoints")
with open(os.path.join(FIXTURES, "expected_keys.json")) as _f:
    EXPECTED = json.load(_f)  # each case's config["checkpoint"] from the parity npz
CASES = sorted(EXPECTED)


def _bf16_bits(values: np.ndarray) -> np.ndarray:
    return (values.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def _path_in(path) -> str:
    return re.escape(str(path))


# ------------------------------------------------------------------------------------------ fixture files


@pytest.mark.parametrize("case", CASES)
def test_pth_equals_safetensors_and_keys(case):
    expected = EXPECTED[case]
    pth = read_checkpoint(os.path.join(FIXTURES, f"{case}.pth"))
    flat = read_checkpoint(os.path.join(FIXTURES, f"{case}.safetensors"))
    container = expected["container_key"]
    extras = expected.get("other_top_level_keys", [])
    assert type(pth) is dict and set(pth) == {container, *extras}
    state = pth[container]
    assert set(state) == set(expected["keys"]) == set(flat)
    for name, array in state.items():
        assert isinstance(array, np.ndarray) and array.flags.c_contiguous
        assert array.dtype == np.dtype(expected["dtype"])  # fp16 stays fp16
        assert flat[name].dtype == np.float32 and flat[name].shape == array.shape
        np.testing.assert_array_equal(array.astype(np.float32), flat[name])  # fp16 → fp32 is exact
    for key in extras:  # DeepSpeed bookkeeping comes back as plain Python values
        assert pth[key] is None or type(pth[key]) in (int, str, list)
    if extras:
        assert pth["ds_version"] == "0.7.4" and pth["optimizer"] is None and pth["buffer_names"] == []


def test_viclip_scalartensor():
    temp = read_checkpoint(os.path.join(FIXTURES, "viclip_dev.pth"))["model"]["temp"]
    assert temp.shape == () and temp.dtype == np.float32


def test_allow_list_is_exactly_the_documented_one():
    storages = ["Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool"]
    assert set(pickle_allowlist.ALLOWED_GLOBALS) == {
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter",
        "torch.Size",
        "collections.OrderedDict",
        "builtins.set",
        "builtins.frozenset",
        "argparse.Namespace",
        "easydict.EasyDict",
        *(f"torch.{s}Storage" for s in storages),
    }


# -------------------------------------------------------------------------------------- unsafe pickles


@pytest.mark.parametrize("protocol", [2, 4])
def test_os_system_is_refused_and_never_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    # The payload comes first, so a plain pickle.load would run it before failing to import torch.
    payload = {"x": Pwn(os.system, f"touch {marker}"), "model": {"w": tensor(np.ones(2, np.float32), "0")}}
    path = write_zip(tmp_path / "evil.pth", payload, protocol=protocol)
    with pytest.raises(UnsafeCheckpointError, match=_path_in(path)) as info:
        read_checkpoint(path)
    assert re.search(r"\b(os|posix)\.system\b", str(info.value))
    assert not marker.exists()


def test_builtins_eval_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    code = f"__import__('os').system('touch {marker}')"
    path = write_zip(tmp_path / "evil.pth", {"model": Pwn(Global("builtins", "eval"), code)})
    with pytest.raises(UnsafeCheckpointError, match=r"builtins\.eval"):
        read_torch_zip(path)
    assert not marker.exists()


def test_numpy_pickles_are_refused(tmp_path):
    path = write_zip(tmp_path / "np.pth", {"model": {"w": np.ones(3)}})
    with pytest.raises(UnsafeCheckpointError, match=r"multiarray\._reconstruct"):
        read_checkpoint(path)


def test_legacy_bare_pickle_is_not_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "legacy.pth"
    path.write_bytes(pickle.dumps({"model": Pwn(os.system, f"touch {marker}")}, protocol=2))
    with pytest.raises(CheckpointError, match=_path_in(path) + ".*bare pickle.*expected a torch.save zip"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match=_path_in(path)):
        read_torch_zip(path)
    assert not marker.exists()


# ------------------------------------------------------------------------------------- hand-built zips


def test_namespace_args_become_an_inert_stub(tmp_path):
    args = argparse.Namespace(lr=1e-3, model="vit_base_patch16_224", tubelet_size=2, input=(16, 224), ft=None)
    state = collections.OrderedDict(w=tensor(np.arange(6, dtype=np.float32).reshape(2, 3), "0"))
    state._metadata = {"": {"version": 1}}  # what nn.Module.state_dict() attaches
    path = write_zip(tmp_path / "ckpt.pth", {"model": state, "args": args, "epoch": 3, "optimizer": {}})
    ckpt = read_checkpoint(path)
    assert isinstance(ckpt["args"], PickledNamespace) and vars(ckpt["args"]) == vars(args)
    assert ckpt["args"].lr == 1e-3 and ckpt["epoch"] == 3
    np.testing.assert_array_equal(ckpt["model"]["w"], np.arange(6).reshape(2, 3))
    assert ckpt["model"]._metadata == {"": {"version": 1}}


def test_strides_offsets_shared_storage_and_dtypes(tmp_path):
    base = np.arange(24, dtype=np.float32)
    shared = Storage("FloatStorage", "0", base.tobytes(), 24)
    bf16 = np.array([[1.0, -2.5], [3.140625, np.inf]], np.float32)
    payload = {
        "t": Tensor(shared, 2, (3, 4), (1, 3)),  # a transposed view with an offset
        "row": Tensor(shared, 20, (4,), (1,)),  # the same storage again
        "scalar": Tensor(shared, 5, (), ()),
        "empty": Tensor(shared, 0, (0, 7), (7, 1)),
        "half": tensor(np.array([0.5, -1.0], np.float16), "1", "HalfStorage"),
        "bf16": tensor(_bf16_bits(bf16), "2", "BFloat16Storage"),
        "long": tensor(np.array([2**40, -1], np.int64), "3", "LongStorage"),
        "bool": tensor(np.array([True, False]), "4", "BoolStorage"),
    }
    out = read_torch_zip(write_zip(tmp_path / "s.pth", payload))
    np.testing.assert_array_equal(out["t"], base[2:14].reshape(4, 3).T)
    assert out["t"].flags.c_contiguous
    np.testing.assert_array_equal(out["row"], base[20:24])
    assert out["scalar"].shape == () and out["scalar"] == 5.0
    assert out["empty"].shape == (0, 7)
    assert out["half"].dtype == np.float16 and out["long"][0] == 2**40 and out["bool"].dtype == bool
    assert out["bf16"].dtype == np.float32
    np.testing.assert_array_equal(out["bf16"], bf16)
    out["row"][0] = -1  # copies, not views of one shared buffer
    assert out["t"][0, 0] == 2.0


def test_big_endian_missing_and_short_storages(tmp_path):
    state = {"w": tensor(np.ones(4, np.float32), "0")}
    big = write_zip(tmp_path / "big.pth", state, byteorder=b"big")
    with pytest.raises(CheckpointError, match=_path_in(big) + ".*little-endian"):
        read_checkpoint(big)
    missing = write_zip(tmp_path / "missing.pth", state, drop_storage=True)
    with pytest.raises(CheckpointError, match=_path_in(missing) + ".*archive/data/0 is missing"):
        read_checkpoint(missing)
    short = Storage("FloatStorage", "0", b"\0" * 8, 4)
    short_path = write_zip(tmp_path / "short.pth", {"w": Tensor(short, 0, (4,), (1,))})
    with pytest.raises(CheckpointError, match=_path_in(short_path) + ".*holds 8 bytes; expected 16"):
        read_checkpoint(short_path)
    overrun = write_zip(tmp_path / "overrun.pth", {"w": Tensor(state["w"].storage, 1, (4,), (1,))})
    with pytest.raises(CheckpointError, match=_path_in(overrun) + ".*overruns its storage"):
        read_checkpoint(overrun)


def test_non_dict_top_level_and_zip_without_pickle(tmp_path):
    path = write_zip(tmp_path / "list.pth", [1, 2])
    assert read_torch_zip(path) == [1, 2]
    with pytest.raises(CheckpointError, match=_path_in(path) + ".*expected a dict"):
        read_checkpoint(path)
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(CheckpointError, match=_path_in(plain) + ".*data.pkl"):
        read_checkpoint(plain)


@pytest.mark.parametrize("suffix", ["pth", "safetensors"])
def test_truncated_fixture(tmp_path, suffix):
    blob = open(os.path.join(FIXTURES, f"videomae_v1_dev.{suffix}"), "rb").read()
    path = tmp_path / f"cut.{suffix}"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match=_path_in(path)):
        read_checkpoint(path)


# Fixed random bytes: every pytest worker must collect the same cases.
RANDOM_BYTES = random.Random(0).randbytes(64).replace(b"{", b"(")


@pytest.mark.parametrize("content", [b"", b"garbage!", RANDOM_BYTES], ids=["empty", "text", "random"])
def test_garbage(tmp_path, content):
    path = tmp_path / "junk.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=_path_in(path) + ".*expected a torch.save zip"):
        read_checkpoint(path)


# ------------------------------------------------------------------------------------------ safetensors


def test_safetensors_dtypes_and_bf16(tmp_path):
    values = np.array([[1.0, -2.5, 0.0], [3.140625, -np.inf, 2.0**-126]], np.float32)
    bits = np.array([0x7FC1, 0xFF81, 0x0001, 0x8000], np.uint16)  # NaN payloads, a subnormal, -0.0
    tensors = {
        "bf16": ("BF16", _bf16_bits(values)),
        "bf16_bits": ("BF16", bits),
        "f16": ("F16", np.array([0.5, -1.0], np.float16)),
        "f64": ("F64", np.array([np.pi])),
        "i64": ("I64", np.array([[2**40]], np.int64)),
        "i8": ("I8", np.array([-3], np.int8)),
        "u8": ("U8", np.array([255], np.uint8)),
        "bool": ("BOOL", np.array([True, False])),
        "scalar": ("F32", np.array(7.0, np.float32)),
        "empty": ("I32", np.zeros((0, 3), np.int32)),
    }
    out = read_safetensors(write_safetensors(tmp_path / "t.safetensors", tensors, metadata={"format": "pt"}))
    assert list(out) == list(tensors)
    assert out["bf16"].dtype == np.float32
    np.testing.assert_array_equal(out["bf16"], values)
    assert out["bf16_bits"].dtype == np.float32  # widened bit for bit: the float32 is the bits << 16
    np.testing.assert_array_equal(out["bf16_bits"].view(np.uint32), bits.astype(np.uint32) << 16)
    for name, (_, array) in tensors.items():
        if not name.startswith("bf16"):
            assert out[name].dtype == array.dtype and out[name].shape == array.shape
            np.testing.assert_array_equal(out[name], array)


def test_safetensors_key_order_follows_the_data(tmp_path):
    """Keys come back in data-offset order, which is header order for every file a safetensors writer makes;
    a header listing them otherwise does not reorder them."""
    tensors = {"b": ("F32", np.ones(2, np.float32)), "a": ("I8", np.arange(3, dtype=np.int8))}
    assert list(read_safetensors(write_safetensors(tmp_path / "ba.safetensors", tensors))) == ["b", "a"]
    moved = write_safetensors(tmp_path / "moved.safetensors", tensors, edit=lambda h: h.update(b=h.pop("b")))
    raw = moved.read_bytes()
    assert list(json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])) == ["a", "b"]  # header order
    out = read_checkpoint(moved)
    assert list(out) == ["b", "a"]
    np.testing.assert_array_equal(out["a"], np.arange(3))


def test_safetensors_dtype_numpy_cannot_hold(tmp_path):
    path = write_safetensors(tmp_path / "f8.safetensors", {"w": ("F8_E4M3", np.zeros(4, np.uint8))})
    message = ".*tensor 'w' has dtype F8_E4M3, which is not read.*expected a dtype numpy holds, or BF16"
    with pytest.raises(CheckpointError, match=_path_in(path) + message):
        read_checkpoint(path)


def _overlap(header):
    header["b"]["data_offsets"] = [2, 6]  # overlaps the end of a (offsets [0, 4])


def _wrong_span(header):
    header["a"]["data_offsets"] = [0, 8]


# The messages are those of the safetensors package (requirements.txt pins it), after the file's path.
@pytest.mark.parametrize(
    "edit, tail, message",
    [
        (_overlap, b"", "invalid offset for tensor `b`"),
        (_wrong_span, b"", "invalid shape, data type, or offset for tensor"),
        (lambda h: h["a"].update(dtype="F8"), b"", "unknown variant `F8`, expected one of `BOOL`"),
        (lambda h: h["a"].update(shape=[-1]), b"", "invalid value: integer `-1`, expected usize"),
        (lambda h: h.update(__metadata__={"n": 1}), b"", "invalid type: integer `1`, expected a string"),
        (None, b"xx", "incomplete metadata, file not fully covered"),
    ],
)
def test_safetensors_bad_header(tmp_path, edit, tail, message):
    tensors = {"a": ("F32", np.ones(1, np.float32)), "b": ("F32", np.ones(1, np.float32))}
    path = write_safetensors(tmp_path / "bad.safetensors", tensors, edit=edit, tail=tail)
    prefix = _path_in(path) + re.escape(
        ": not a readable safetensors file (Error while deserializing header: "
    )
    with pytest.raises(CheckpointError, match=prefix + ".*" + re.escape(message)):
        read_checkpoint(path)


def test_safetensors_bad_length_json_and_truncation(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes((10**6).to_bytes(8, "little") + b'{"a": 1}')  # longer than the file
    with pytest.raises(CheckpointError, match=_path_in(path) + ".*invalid header length"):
        read_checkpoint(path)
    path.write_bytes((200 * 1024 * 1024).to_bytes(8, "little") + b'{"a": 1}')  # over the package's 100 MB
    with pytest.raises(CheckpointError, match=_path_in(path) + ".*header too large"):
        read_checkpoint(path)
    path.write_bytes((5).to_bytes(8, "little") + b"{oops")
    with pytest.raises(CheckpointError, match=_path_in(path) + ".*invalid JSON in header"):
        read_checkpoint(path)
    path.write_bytes(b"\x01\x00")
    with pytest.raises(CheckpointError, match=_path_in(path) + ".*header too small"):
        read_safetensors(path)
    blob = open(os.path.join(FIXTURES, "videomae_v1_dev.safetensors"), "rb").read()
    path.write_bytes(blob[:-1])  # one byte of the last tensor missing
    with pytest.raises(CheckpointError, match=_path_in(path) + ".*file not fully covered"):
        read_checkpoint(path)
