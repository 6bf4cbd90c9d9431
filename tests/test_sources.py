"""Checkpoint sources by format (gesture_jax.ports.sources): transformers folders, single or sharded."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from gesture_jax.ports import sources


def _folder(tmp_path, shards: dict[str, dict[str, np.ndarray]], index: dict[str, str] | None):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "x", "hidden_size": 4}))
    for name, tensors in shards.items():
        save_file(tensors, str(tmp_path / name))
    if index is not None:
        (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": index}))
    return str(tmp_path)


def test_single_file_folder(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = _folder(tmp_path, {"model.safetensors": {"a": a}}, None)
    got = sources.read("hf", path)
    np.testing.assert_array_equal(got.tensors["a"], a)
    assert got.config == {"model_type": "x", "hidden_size": 4} and got.state_key is None
    assert [f.rsplit("/", 1)[1] for f in got.files] == ["config.json", "model.safetensors"]


def test_sharded_folder_reads_every_shard_its_index_lists(tmp_path):
    shards = {"model-00001-of-00002.safetensors": {"a": np.ones(2, np.float32)}}
    shards["model-00002-of-00002.safetensors"] = {"b": np.zeros(3, np.float32), "c": np.ones(1, np.int64)}
    index = {"a": "model-00001-of-00002.safetensors"}
    index.update({"b": "model-00002-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"})
    got = sources.read("hf", _folder(tmp_path, shards, index))
    assert sorted(got.tensors) == ["a", "b", "c"] and len(got.files) == 4
    assert got.tensors["c"].dtype == np.int64


def test_a_shard_that_disagrees_with_the_index_is_named(tmp_path):
    shards = {"s1.safetensors": {"a": np.ones(2, np.float32), "stray": np.ones(1, np.float32)}}
    path = _folder(tmp_path, shards, {"a": "s1.safetensors"})
    with pytest.raises(
        sources.SourceError, match=r"s1.safetensors: holds 2 tensors, .* lists 1 .*unlisted: \['stray'\]"
    ):
        sources.read("hf", path)


def test_wrong_sources_say_what_was_expected(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(
        sources.SourceError, match=r"expected config.json and model.safetensors .* holds \['weights.bin'\]"
    ):
        sources.read("hf", str(tmp_path))
    with pytest.raises(sources.SourceError, match="is not a folder"):
        sources.read("hf", str(tmp_path / "weights.bin"))
    with pytest.raises(sources.SourceError, match="is a folder; this family converts one .pth"):
        sources.read("torch", str(tmp_path))
    with pytest.raises(sources.SourceError, match="--state_key applies to .pth files"):
        sources.read("hf", str(tmp_path), state_key="model")


def test_digest_of_several_files_depends_on_each(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_bytes(b"1")
    two.write_bytes(b"2")
    before = sources.digest([str(one), str(two)])
    assert sources.digest([str(one)]) == sources.file_sha256(str(one))
    two.write_bytes(b"3")
    assert sources.digest([str(one), str(two)]) != before
