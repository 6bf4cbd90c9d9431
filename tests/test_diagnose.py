"""Mode diagnose (configs/diagnose/demo.py): the domain-gap numbers, written from the cached features."""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn.neighbors import KNeighborsClassifier

from gesture_jax import config_lib
from gesture_jax.analysis import domain
from gesture_jax.data import groups
from gesture_jax.evaluation import diagnosis_tables, report
from gesture_jax.features import extraction as features
from gesture_jax.modes import diagnose

SYN, REAL, QUERIES = (
    "toy_gestures/synthetic_small:train",
    "toy_gestures/real_small:train",
    "toy_gestures/real_small:test",
)


pytestmark = pytest.mark.uses_mode("diagnose")  # a shared run: its tests share a worker


@pytest.fixture(scope="module")
def run(mode_runs):
    """The diagnose case's run of the mode kit (tests/mode_cases.py), shared with its other checks."""
    reference = mode_runs.reference("diagnose")
    return reference.config, Path(reference.workdir), reference.rows


@pytest.mark.slow
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
        "toy_gestures/synthetic_small:train[curated on toy_gestures/real_small:train]",
    ]


def _cached(workdir) -> dict[str, features.VideoVectors]:
    """The feature cache's vectors by split, found through the entries' manifests."""
    cache = workdir / "features"
    by_split = {}
    for entry in os.listdir(cache):
        manifest = json.load(open(cache / entry / "manifest.json"))
        split = f"{manifest['dataset']}:{manifest['split']}"
        by_split[split] = features.VideoVectors.load(str(cache / entry / features.FEATURES_FILE))
    return by_split


@pytest.mark.slow
def test_numbers_follow_from_the_cached_features(run):
    """As a reader checks them: the feature cache's vectors through analysis.domain give the same."""
    config, workdir, _ = run
    by_split = _cached(workdir)
    gap = json.load(open(workdir / diagnose.DOMAIN_GAP_JSON))["encoders"]["toy-vit-pretrained"]
    pair = gap["pairs"]["toy_gestures/synthetic_small:train | toy_gestures/real_small:test"]
    x = by_split["toy_gestures/synthetic_small:train"].vectors.astype(np.float64)
    y = by_split["toy_gestures/real_small:test"].vectors.astype(np.float64)
    assert pair["mmd2"] == pytest.approx(domain.mmd2(x, y), rel=1e-9)
    assert pair["frechet"] == pytest.approx(domain.frechet_distance(x, y), rel=1e-9)
    assert pair["n_a"] == len(x) == 42 and pair["n_b"] == len(y) == 21


def _params(data_dir, split: str, field: str) -> np.ndarray:
    """One generator parameter of every record of a toy split, read with TFDS directly."""
    dataset, name = split.split(":")
    source = tfds.data_source(dataset, data_dir=data_dir)[name]
    return np.array([source[i]["params"][field] for i in range(len(source))])


def _knn_accuracy(gallery, queries, keep, k=3):
    clf = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric="euclidean")
    clf.fit(gallery.vectors[keep], gallery.labels[keep])
    return float((clf.predict(queries.vectors) == queries.labels).mean())


@pytest.mark.slow
def test_attribution_table_and_ablations_follow_from_cache_and_records(run, toy_data_dir):
    """attribution.csv holds one line per value of every toy generator parameter; an ablation, redone
    with scikit-learn on the cached features and the records' own parameter values, agrees."""
    config, workdir, rows = run
    gap = json.load(open(workdir / diagnose.DOMAIN_GAP_JSON))["encoders"]["toy-vit-pretrained"]
    att = gap["attribution"]
    lines = list(csv.DictReader(open(workdir / diagnose.ATTRIBUTION_CSV)))
    assert tuple(lines[0]) == diagnosis_tables.CSV_COLUMNS
    assert {line["field"] for line in lines} == set(groups.attribution_fields("toy_gestures/synthetic_small"))
    assert len(lines) == len(att["neighbour_shares"]) == len(att["leave_one_out"])
    for field in {line["field"] for line in lines}:  # each parameter's values share out the neighbours
        share = sum(float(line["neighbour_share"]) for line in lines if line["field"] == field)
        assert share == pytest.approx(1.0)

    cached = _cached(workdir)
    gallery, queries = cached[SYN], cached[QUERIES]
    repetitions = _params(toy_data_dir, SYN, "repetitions")
    for line in (line for line in lines if line["field"] == "params.repetitions"):
        keep = repetitions != int(line["value"])
        assert int(line["num_removed"]) == int((~keep).sum())
        assert float(line["accuracy_without"]) == pytest.approx(_knn_accuracy(gallery, queries, keep))
        assert float(line["full_accuracy"]) == pytest.approx(rows[0].metrics["accuracy"])
        lost = set(np.unique(gallery.labels)) - set(np.unique(gallery.labels[keep]))
        assert line["classes_lost"] == ";".join(rows[0].class_names[c] for c in sorted(lost))


@pytest.mark.slow
def test_curated_gallery_is_chosen_on_the_selection_split_and_scored_once(run, toy_data_dir):
    config, workdir, rows = run
    cur = json.load(open(workdir / diagnose.DOMAIN_GAP_JSON))["encoders"]["toy-vit-pretrained"][
        "attribution"
    ]["curation"]
    assert cur["selection"] == REAL and cur["selection"] != QUERIES
    assert 1 <= len(cur["steps"]) <= config.diagnose.curation_steps
    # The curated gallery is the synthetic gallery without every removed value, as the records say.
    cached = _cached(workdir)
    keep = np.ones(len(cached[SYN]), bool)
    for step in cur["steps"]:
        values = _params(toy_data_dir, SYN, step["field"].removeprefix("params."))
        if step["rule"] == "each value":
            keep &= np.array([str(v) for v in values]) != step["value"]
        else:
            lo, hi, last = step["low"], step["high"], step["value"].endswith("]")
            keep &= ~((values >= lo) & ((values <= hi) if last else (values < hi)))
        assert step["num_gallery"] == keep.sum()
    selection_accuracy = _knn_accuracy(cached[SYN], cached[REAL], keep)
    assert cur["steps"][-1]["selection_accuracy"] == pytest.approx(selection_accuracy)
    curated = rows[-1]
    assert curated.facts["num_gallery"] == keep.sum() == cur["num_gallery"]
    assert curated.metrics["accuracy"] == pytest.approx(_knn_accuracy(cached[SYN], cached[QUERIES], keep))
    assert cur["test_accuracy"] == curated.metrics["accuracy"]
    assert cur["test_difference"] == pytest.approx(cur["test_accuracy"] - rows[0].metrics["accuracy"])
    assert "Curation, chosen on `toy_gestures/real_small:train`" in open(workdir / "results.md").read()


@pytest.mark.slow
def test_failures_are_wrong_queries_with_their_synthetic_neighbours(run):
    config, workdir, rows = run
    failures = json.load(open(workdir / diagnose.DOMAIN_GAP_JSON))["encoders"]["toy-vit-pretrained"][
        "failures"
    ]
    synthetic = rows[0]
    wrong = set(synthetic.ids[~synthetic.correct].tolist())
    assert 0 < len(failures) <= config.diagnose.failures and {f["id"] for f in failures} <= wrong
    cached = _cached(workdir)
    for f in failures:
        assert f["label"] != f["predicted"] and len(f["neighbours"]) == synthetic.key.k
        q = cached[QUERIES].vectors[f["query_index"]]
        distances = np.linalg.norm(cached[SYN].vectors - q, axis=1)
        assert [n["index"] for n in f["neighbours"]] == np.argsort(distances, kind="stable")[:3].tolist()
    assert os.path.getsize(workdir / "failures_toy-vit-pretrained.png") > 10_000


def test_selection_must_not_be_the_query_split(toy_data_dir, tmp_path):
    config = config_lib.load_file("configs/diagnose/demo.py:smoke")
    with config.unlocked():
        config.data.data_dir = toy_data_dir
        config.diagnose.selection = QUERIES
    with pytest.raises(
        ValueError, match="diagnose.selection is the query split toy_gestures/real_small:test"
    ):
        diagnose.run(config, str(tmp_path))
