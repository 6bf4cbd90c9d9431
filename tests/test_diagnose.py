"""Mode diagnose (configs/diagnose/demo.py): the domain-gap numbers, written from the cached features."""

import json
import os

import numpy as np
import pytest

from gesture_jax import config_lib, domain, features, report
from gesture_jax.modes import diagnose


@pytest.fixture(scope="module")
def run(toy_data_dir, tmp_path_factory):
    config = config_lib.load_file("configs/diagnose/demo.py:smoke")
    with config.unlocked():
        config.data.data_dir = toy_data_dir
    workdir = tmp_path_factory.mktemp("diagnose")
    rows = diagnose.run(config, str(workdir))
    return config, workdir, rows


def test_writes_every_number_keyed_by_encoder_and_split_pair(run):
    config, workdir, rows = run
    body = json.load(open(workdir / diagnose.DOMAIN_GAP_JSON))
    gap = body["encoders"]["toy-vit-pretrained"]
    assert set(gap["pairs"]) == {
        "toy_gestures/synthetic_small:train | toy_gestures/real_small:test",
        "toy_gestures/real_small:train | toy_gestures/real_small:test",
        "toy_gestures/synthetic_small:train | toy_gestures/real_small:train",
    }
    for pair in gap["pairs"].values():
        assert {"mmd2", "mmd2_p_value", "frechet", "proxy_a_distance", "class_gaps"} <= set(pair)
        assert 0 < pair["mmd2_p_value"] <= 1 and pair["frechet"] >= 0 and -2 <= pair["proxy_a_distance"] <= 2
    (provenance,) = gap["neighbour_provenance"].values()
    assert provenance["num_queries"] == 21 and 0 <= provenance["synthetic_share"] <= 1
    assert os.path.getsize(workdir / "embedding_toy-vit-pretrained.png") > 10_000
    assert "## Domain gap" in open(workdir / "results.md").read()
    assert [report.row_json(r)["gallery"] for r in rows] == [
        "toy_gestures/synthetic_small:train",
        "toy_gestures/real_small:train",
        "toy_gestures/synthetic_small:train+toy_gestures/real_small:train",
    ]


def test_numbers_follow_from_the_cached_features(run):
    """As a reader checks them: the feature cache's vectors through gesture_jax.domain give the same."""
    config, workdir, _ = run
    cache = workdir / "features"
    by_split = {}
    for entry in os.listdir(cache):
        manifest = json.load(open(cache / entry / "manifest.json"))
        split = f"{manifest['dataset']}:{manifest['split']}"
        by_split[split] = features.VideoVectors.load(str(cache / entry / features.FEATURES_FILE))
    gap = json.load(open(workdir / diagnose.DOMAIN_GAP_JSON))["encoders"]["toy-vit-pretrained"]
    pair = gap["pairs"]["toy_gestures/synthetic_small:train | toy_gestures/real_small:test"]
    x = by_split["toy_gestures/synthetic_small:train"].vectors.astype(np.float64)
    y = by_split["toy_gestures/real_small:test"].vectors.astype(np.float64)
    assert pair["mmd2"] == pytest.approx(domain.mmd2(x, y), rel=1e-9)
    assert pair["frechet"] == pytest.approx(domain.frechet_distance(x, y), rel=1e-9)
    assert pair["n_a"] == len(x) == 42 and pair["n_b"] == len(y) == 21
