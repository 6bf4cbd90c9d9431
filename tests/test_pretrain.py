"""Pre-training (mode pretrain, configs/toy_pretrain.py) and the shipped pre-trained toy encoder."""

import json
import os

import numpy as np
import pytest

from gesture_jax import config_lib, models
from gesture_jax.models import model_dir
from gesture_jax.modes import pretrain
from gesture_jax.train import supervised
from gesture_jax.train import trainer as trainer_lib

SHIPPED = models.weights_dir("toy-vit-pretrained")


def _smoke(data_dir, **overrides):
    config = config_lib.load_file("configs/toy_pretrain.py:smoke")
    with config.unlocked():
        config.data.data_dir = data_dir
        config.pretrain.update(batch_per_device=2, **overrides)  # 16 clips a step on the 8 test devices
    return config


@pytest.fixture(scope="module")
def exported(toy_motions_data_dir, tmp_path_factory):
    """The smoke config shrunk to 4 steps, run once to the end, and once stopped after 2 steps and started
    again in the same workdir (a second run of the same config from step 0, then a resumed one)."""
    runs = {}
    workdir = tmp_path_factory.mktemp("pretrain")
    rows = pretrain.run(_smoke(toy_motions_data_dir, num_steps=4, checkpoint_every=2), str(workdir))
    runs["once"] = (workdir, rows)
    resumed = tmp_path_factory.mktemp("pretrain_resumed")
    pretrain.run(_smoke(toy_motions_data_dir, num_steps=2, checkpoint_every=2), str(resumed))
    pretrain.run(_smoke(toy_motions_data_dir, num_steps=4, checkpoint_every=2), str(resumed))
    runs["resumed"] = (resumed, None)
    return runs


def _meta(workdir):
    return model_dir.read_meta(os.path.join(workdir, pretrain.ENCODER_DIR))


@pytest.mark.slow
def test_rerunning_the_shrunk_config_is_deterministic(exported):
    """The second run repeats the first one's first 2 steps from scratch, then resumes from its checkpoint:
    it ends on the same parameters, bit for bit, only if both are deterministic."""
    once, resumed = (_meta(exported[k][0]) for k in ("once", "resumed"))
    assert resumed["source"]["sha256"] == once["source"]["sha256"]
    assert once["source"]["steps"] == resumed["source"]["steps"] == 4


@pytest.mark.slow
def test_export_is_a_converted_model_with_its_provenance(exported, toy_motions_data_dir):
    workdir, rows = exported["once"]
    path = os.path.join(workdir, pretrain.ENCODER_DIR)
    meta = _meta(workdir)
    assert meta["family"] == "toy" and meta["encoder"] == "toy-vit"
    assert meta["model_config"]["drop_path_rate"] == 0.0
    source = meta["source"]
    assert source["train_split"] == "toy_motions/neutral_small:train" and source["dataset_version"] == "1.0.0"
    assert source["config"]["pretrain"]["num_steps"] == 4 and source["config"]["mode"] == "pretrain"
    params = model_dir.read_params(path)
    assert trainer_lib.checksum(params) == source["sha256"]
    assert source["num_params"] == sum(v.size for v in params.values())
    # it loads like any converted checkpoint, and is not the random init it started from
    model, spec = models.open_encoder("toy-vit", path)
    assert spec == models.get("toy-vit").spec
    video = np.random.default_rng(0).normal(size=(2, 8, 32, 32, 3)).astype(np.float32)
    random, _ = models.create("toy-vit", seed=0)
    assert not np.allclose(model.features(video), random.features(video))
    (row,) = rows
    assert row.gallery == "classifier head" and row.queries == "toy_motions/neutral_small:val"
    assert source["val_accuracy"] == row.metrics["accuracy"]


def test_shipped_encoder_loads_and_matches_its_checksum():
    meta = model_dir.read_meta(SHIPPED)
    params = model_dir.read_params(SHIPPED)
    assert trainer_lib.checksum(params) == meta["source"]["sha256"]
    model, spec = models.open_encoder("toy-vit-pretrained")
    assert spec == models.get("toy-vit-pretrained").spec
    loaded = supervised.encoder_params(model)
    assert loaded.keys() == params.keys()
    assert all(np.array_equal(loaded[k], params[k]) for k in params)
    # Its size stays small enough to ship in the repository.
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(SHIPPED) for f in fs)
    assert size < 3 * 2**20


def test_shipped_encoder_is_the_output_of_the_pretrain_config():
    """model.json states the config it came from: configs/toy_pretrain.py as it is now (data_dir aside)."""
    source = model_dir.read_meta(SHIPPED)["source"]
    config = json.loads(config_lib.load_file("configs/toy_pretrain.py").to_json_best_effort())
    recorded = source["config"]
    for block in (config, recorded):
        block["data"].pop("data_dir")
    assert recorded == config
    assert source["steps"] == config["pretrain"]["num_steps"]
    assert source["train_split"] == config["pretrain"]["train_split"]
