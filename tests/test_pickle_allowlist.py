"""What the pickle allow-list rebuilds and refuses: real training saves (a DeepSpeed engine's file, a
torch.compile'd module, an EasyDict config) come back as plain values; sets, torch.Size and EasyDict from
hand-written pickles; callables hidden inside them are refused and never run; BUILD cannot rewrite it."""

import collections
import os
import sys
import types
import zipfile

import numpy as np
import pytest
from checkpoint_files import Global, Pwn, tensor, write_pickle_zip, write_zip

from gesture_jax.ports import pickle_allowlist
from gesture_jax.ports.pickle_allowlist import PickledNamespace
from gesture_jax.ports.readers import CheckpointError, UnsafeCheckpointError, read_checkpoint, read_torch_zip

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoints")


# ------------------------------------------------------------------ training saves (made with real torch)
# Written by tests/fixtures/checkpoints/make_containers.py (torch 2.14.1, deepspeed 0.19.0, easydict 1.14).


def _only_plain_containers(obj) -> bool:
    """True when every dict in `obj` is exactly a dict or OrderedDict (no stand-in class left)."""
    if isinstance(obj, dict):
        plain = type(obj) in (dict, collections.OrderedDict)
        return plain and all(_only_plain_containers(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_only_plain_containers(v) for v in obj)
    return True


def test_raw_deepspeed_model_states():
    """A real DeepSpeed engine.save_checkpoint file: its set, torch.Size shapes and config come back plain."""
    ckpt = read_checkpoint(os.path.join(FIXTURES, "umt_dev_native_deepspeed_raw.pt"))
    assert list(ckpt) == [
        *("module", "buffer_names", "optimizer", "param_shapes", "frozen_param_shapes", "shared_params"),
        *(
            "frozen_param_fragments",
            "lr_scheduler",
            "data_sampler",
            "random_ltd",
            "sparse_tensor_module_names",
        ),
        *("skipped_steps", "global_steps", "global_samples", "dp_world_size", "mp_world_size", "ds_config"),
        *("ds_version", "epoch"),
    ]
    assert type(ckpt["sparse_tensor_module_names"]) is set and not ckpt["sparse_tensor_module_names"]
    reference = read_checkpoint(os.path.join(FIXTURES, "umt_dev_native.pth"))["module"]
    (shapes,) = ckpt["param_shapes"]
    assert type(shapes) is collections.OrderedDict
    assert dict(shapes) == {k: v.shape for k, v in reference.items()}
    assert all(type(s) is tuple and all(type(d) is int for d in s) for s in shapes.values())
    assert ckpt["ds_config"]["zero_optimization"] == {"stage": 2} and ckpt["ds_version"] == "0.19.0"
    assert (
        ckpt["optimizer"] is None
        and ckpt["epoch"] == 3
        and ckpt["lr_scheduler"] == {"last_batch_iteration": -1}
    )
    assert list(ckpt["module"]) == list(reference)
    for key, array in ckpt["module"].items():
        assert array.dtype == np.float16
        np.testing.assert_array_equal(array, reference[key])


def test_training_save_with_an_easydict_config():
    ckpt = read_checkpoint(os.path.join(FIXTURES, "viclip_dev_train_easydict.pth"))
    assert list(ckpt) == ["model", "optimizer", "scheduler", "scaler", "config", "epoch", "global_step"]
    config = ckpt["config"]
    assert type(config) is dict and _only_plain_containers(ckpt)
    assert config["model"]["vision_encoder"] == {
        "name": "vit_dev",
        "patch_size": 8,
        "d_model": 32,
        "num_frames": 4,
        "drop_path": 0.0,
    }
    assert config["optimizer"]["betas"] == [0.9, 0.98] and config["batch_size"] == {"image": 8, "video": 4}
    assert config["train_file"] == [["anno/internvid_10m_flt.json", "videos/", "video"]]
    assert ckpt["scheduler"]["lr_lambdas"] == [None] and ckpt["global_step"] == 1234
    reference = read_checkpoint(os.path.join(FIXTURES, "viclip_dev.pth"))["model"]
    assert list(ckpt["model"]) == ["module." + k for k in reference]  # DistributedDataParallel's names
    for key, array in reference.items():
        np.testing.assert_array_equal(ckpt["model"]["module." + key], array)


def test_torch_compiled_training_save():
    ckpt = read_checkpoint(os.path.join(FIXTURES, "videomae_v2_dev_pretrain_compiled.pth"))
    assert list(ckpt) == ["model", "optimizer", "epoch", "scaler", "args"]
    reference = read_checkpoint(os.path.join(FIXTURES, "videomae_v2_dev_pretrain.pth"))["model"]
    assert list(ckpt["model"]) == ["_orig_mod." + k for k in reference]
    assert "_orig_mod.encoder.blocks.0.attn.qkv.weight" in ckpt["model"]
    assert isinstance(ckpt["args"], PickledNamespace) and ckpt["args"].mask_ratio == 0.9
    assert ckpt["scaler"]["scale"] == 65536.0 and ckpt["optimizer"]["state"] == {}


# --------------------------------------------------------------------- inert types, hand-built pickles


@pytest.fixture
def EasyDict(monkeypatch):
    """A class the test pickler writes as ``easydict.EasyDict``, the way the real one pickles: a dict
    subclass whose attributes mirror its items (NEWOBJ, SETITEMS, BUILD with its __dict__)."""

    class EasyDict(dict):
        def __init__(self, **items):
            super().__init__()
            for name, value in items.items():
                setattr(self, name, value)

        def __setattr__(self, name, value):
            super().__setattr__(name, value)
            self[name] = value

    EasyDict.__module__, EasyDict.__qualname__ = "easydict", "EasyDict"
    monkeypatch.setitem(sys.modules, "easydict", types.SimpleNamespace(EasyDict=EasyDict))
    return EasyDict


def _pickle_bytes(path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read("archive/data.pkl")


def test_easydict_becomes_plain_dicts_and_stays_shared(tmp_path, EasyDict):
    shared = EasyDict(lr=1e-3, betas=[0.9, 0.98])
    config = EasyDict(
        model=EasyDict(name="vit", depth=2), optimizer=shared, again=[shared], t=(EasyDict(a=1),)
    )
    path = write_zip(tmp_path / "cfg.pth", {"config": config})
    assert b"ceasydict\nEasyDict\n" in _pickle_bytes(path)
    out = read_checkpoint(path)["config"]
    assert out == {
        "model": {"name": "vit", "depth": 2},
        "optimizer": {"lr": 1e-3, "betas": [0.9, 0.98]},
        "again": [{"lr": 1e-3, "betas": [0.9, 0.98]}],
        "t": ({"a": 1},),
    }
    assert _only_plain_containers(out) and out["again"][0] is out["optimizer"]


# An EasyDict with item a=1, then the BUILD state given; opcodes as protocol 2 writes them.
_EASYDICT_THEN_BUILD = b"\x80\x02ceasydict\nEasyDict\n)\x81X\x01\x00\x00\x00aK\x01s%sb."


@pytest.mark.parametrize(
    "state",
    [b"K\x05", b"}K\x01K\x02s", b"N}X\x02\x00\x00\x00fnK\x01s\x86", b"X\x03\x00\x00\x00abc"],
    ids=["int", "int-keys", "slot-state", "str"],
)
def test_easydict_build_state_is_checked(tmp_path, state):
    path = write_pickle_zip(tmp_path / "bad.pth", _EASYDICT_THEN_BUILD % state)
    with pytest.raises(CheckpointError, match="EasyDict state must be a dict of names"):
        read_torch_zip(path)
    good = write_pickle_zip(tmp_path / "good.pth", _EASYDICT_THEN_BUILD % b"}X\x01\x00\x00\x00aK\x01s")
    assert read_torch_zip(good) == {"a": 1}


@pytest.mark.parametrize("protocol", [2, 4])
def test_sets_and_torch_sizes(tmp_path, protocol):
    payload = {
        "names": {"blocks.0.weight", "head.bias"},
        "frozen": frozenset([1, 2]),
        "empty": set(),
        "size": Pwn(Global("torch", "Size"), (2, 3, 4)),
        "scalar_size": Pwn(Global("torch", "Size"), ()),
    }
    path = write_zip(tmp_path / "s.pth", payload, protocol=protocol)
    if protocol == 2:  # the spelling torch.save's protocol writes
        assert b"c__builtin__\nset\n" in _pickle_bytes(path)
    out = read_checkpoint(path)
    assert type(out["names"]) is set and out["names"] == {"blocks.0.weight", "head.bias"}
    assert type(out["frozen"]) is frozenset and out["frozen"] == {1, 2} and out["empty"] == set()
    assert type(out["size"]) is tuple and out["size"] == (2, 3, 4) and out["scalar_size"] == ()


@pytest.mark.parametrize(
    "value, message",
    [
        (Pwn(Global("torch", "Size"), (2, -1)), "torch.Size takes a tuple of non-negative ints"),
        (Pwn(Global("torch", "Size"), (2.0,)), "torch.Size takes a tuple of non-negative ints"),
        (Pwn(Global("torch", "Size"), "ab"), "torch.Size takes a tuple of non-negative ints"),
        (Pwn(Global("__builtin__", "set"), "abc"), r"set\(\) takes one list"),
        (Pwn(Global("__builtin__", "set"), [[1]]), "unhashable"),
    ],
)
def test_bad_sizes_and_sets(tmp_path, value, message):
    path = write_zip(tmp_path / "bad.pth", {"x": value})
    with pytest.raises(CheckpointError, match=message):
        read_torch_zip(path)


@pytest.mark.parametrize("container", ["easydict", "set"])
def test_callables_inside_inert_containers_are_refused(tmp_path, EasyDict, container):
    marker = tmp_path / "pwned"
    payload = Pwn(os.system, f"touch {marker}")
    wrapped = EasyDict(model=EasyDict(hook=payload)) if container == "easydict" else {payload}
    path = write_zip(tmp_path / "evil.pth", {"config": wrapped, "model": {"w": tensor(np.ones(2), "0")}})
    assert (b"ceasydict\nEasyDict\n" if container == "easydict" else b"c__builtin__\nset\n") in _pickle_bytes(
        path
    )
    with pytest.raises(UnsafeCheckpointError, match=r"\b(os|posix)\.system\b.*nothing from the file ran"):
        read_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("module", ["builtins", "__builtin__"])
@pytest.mark.parametrize("name", ["getattr", "eval", "exec", "__import__", "setattr"])
def test_builtins_other_than_sets_are_refused(tmp_path, module, name):
    path = write_zip(tmp_path / "b.pth", {"model": Pwn(Global(module, name), "x")})
    with pytest.raises(UnsafeCheckpointError, match=rf"global builtins\.{name}; expected only .*easydict"):
        read_torch_zip(path)


@pytest.mark.parametrize(
    "state",
    [
        b"(X\x01\x00\x00\x00xK\x01\x88t",
        b"X\x01\x00\x00\x00x\x85",
        b"}X\x02\x00\x00\x00fnK\x01s",
        b"N}X\x02\x00\x00\x00fnK\x01s\x86",
    ],
    ids=["fields", "one-field", "dict", "slot-state"],
)
def test_build_cannot_rewrite_the_allow_list(tmp_path, state):
    """BUILD on an allowed global (a shared object of ours) fails and leaves it as it was."""
    before = {name: repr(value) for name, value in pickle_allowlist.ALLOWED_GLOBALS.items()}
    for qualified in before:
        module, _, name = qualified.rpartition(".")
        data = b"\x80\x02c" + f"{module}\n{name}\n".encode() + state + b"b."
        with pytest.raises(CheckpointError):
            read_torch_zip(write_pickle_zip(tmp_path / "build.pth", data))
    assert {name: repr(value) for name, value in pickle_allowlist.ALLOWED_GLOBALS.items()} == before
