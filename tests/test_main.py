"""End to end, as a user runs it: `python -m gesture_jax.main --config configs/demo.py:smoke ...`."""

import csv
import json
import os

import numpy as np
import pytest
from main_runs import run_main

# The tests reading the session's shared knn runs share a worker with them (tests/conftest.py).
pytestmark = pytest.mark.uses_mode("knn")


def _main(workdir, *flags, devices=1, data_dir=None):
    if data_dir:
        flags = (*flags, f"--config.data.data_dir={data_dir}")
    return run_main("configs/demo.py:smoke", workdir, *flags, devices=devices)


def _rows(workdir):
    with open(os.path.join(workdir, "results.json")) as f:
        return json.load(f)["rows"]


@pytest.fixture(scope="module")
def demo_run(mode_runs):
    """The shrunk demo on one device as a user runs it, building the small toy sets into its own empty data
    dir: the knn case of the mode kit (tests/mode_cases.py), which also checks it against 8 devices, two
    processes and a rerun."""
    run = mode_runs.one_device("knn")
    return run.workdir, run.fields["data.data_dir"], run


def _protocol_rows(rows):
    return [r for r in rows if "protocol" in r.get("roles", ())]


@pytest.mark.slow
def test_demo_writes_the_report(demo_run):
    workdir, data_dir, result = demo_run
    rows = _rows(workdir)
    protocol_rows = _protocol_rows(rows)
    assert [r["gallery"] for r in protocol_rows] == [
        "toy_gestures/synthetic_small:train",
        "toy_gestures/real_small:train",
    ]
    assert {r["method"] for r in rows} == {"knn", "prototype", "linear_probe"}
    for row in protocol_rows:
        assert (
            row["method"] == "knn"
            and row["encoder"] == "toy-vit-pretrained"
            and row["k"] == 3
            and row["metric"] == "l2"
        )
        assert os.path.getsize(os.path.join(workdir, row["confusion_png"])) > 1000
    for row in rows:
        assert row["queries"] == "toy_gestures/real_small:test"
        assert row["num_queries"] == 21 and 0.0 <= row["accuracy"] <= 1.0
        assert 0.0 <= row["mean_class_accuracy"] <= 1.0
        assert sum(map(sum, row["confusion"])) == 21
    # Each probe family has exactly one setting chosen on validation data, never on the queries.
    for gallery in ("toy_gestures/synthetic_small:train", "toy_gestures/real_small:train"):
        for method in ("knn", "prototype", "linear_probe"):
            chosen = [
                r
                for r in rows
                if r["gallery"] == gallery and r["method"] == method and "selected" in r["roles"]
            ]
            assert len(chosen) == 1 and "test" not in chosen[0]["selection"]["on"]
    table = open(os.path.join(workdir, "results.md")).read()
    assert "| toy-vit-pretrained (frozen) · KNN k=3, l2 (paper's protocol) |" in table
    assert "gallery `toy_gestures/synthetic_small:train`" in table and "## Paired comparisons" in table
    assert "## Accuracy (%) by `params.lead_arm`" in table
    breakdowns = protocol_rows[0]["breakdowns"]
    for field in ("params.lead_arm", "nearest gallery video: params.lead_arm"):
        assert sum(c["count"] for c in breakdowns[field]) == 21
    config = json.load(open(os.path.join(workdir, "config.json")))
    assert config["knn"]["k"] == 3 and config["mode"] == "knn"
    log = open(os.path.join(workdir, "log.txt")).read()
    assert (
        "knn toy-vit-pretrained (frozen): toy_gestures/synthetic_small:train (k=3, metric=l2, votes=uniform)"
        in log
    )
    assert os.listdir(os.path.join(data_dir, "toy_gestures"))  # the demo built what it needed
    entries = sorted(os.listdir(os.path.join(workdir, "features")))
    assert len(entries) == 4  # two galleries, the synthetic val split and the queries, each with a manifest
    manifest = json.load(open(os.path.join(workdir, "features", entries[0], "manifest.json")))
    weights = manifest["weights"]  # the shipped pre-trained encoder, identified by its model.json
    assert weights["checkpoint_dir"].endswith("weights/toy-vit-pretrained") and weights["source_sha256"]
    assert manifest["dataset"].startswith("toy_gestures/")
    assert manifest["dataset_version"] and manifest["count"] > 0 and manifest["pooling"]


@pytest.mark.slow
def test_full_demo_rows_all_sit_above_chance(tmp_path):
    """`make demo` as a new user runs it (full toy sets, built into an empty data dir): every row of the
    frozen pre-trained encoder, with either gallery, has its 95% interval above chance (1/7)."""
    result = run_main(
        "configs/demo.py", tmp_path / "run", f"--config.data.data_dir={tmp_path / 'data'}", devices=1
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _rows(tmp_path / "run")
    assert {r["gallery"] for r in rows} == {"toy_gestures/synthetic:train", "toy_gestures/real:train"}
    headline = [r for r in rows if {"protocol", "selected"} & set(r["roles"])]  # the printed table's rows
    assert len(headline) == 8 and {r["method"] for r in headline} == {"knn", "prototype", "linear_probe"}
    for row in headline:  # the paper's KNN and each probe chosen on validation data, for each gallery
        assert row["encoder"] == "toy-vit-pretrained" and row["num_queries"] == 140
        assert row["accuracy_ci95"][0] > 1 / 7, (row["id"], row["accuracy_ci95"])
    assert "Chance is 14.3% (7 classes)." in result.stdout


@pytest.mark.slow
def test_intervals_and_comparisons_follow_from_the_predictions(demo_run):
    """As a reader checks a report: each row's interval and each comparison's p from the CSV files."""
    from gesture_jax.analysis import stats

    workdir, _, _ = demo_run
    body = json.load(open(os.path.join(workdir, "results.json")))

    def outcomes(row):
        with open(os.path.join(workdir, row["predictions_csv"])) as f:
            lines = list(csv.DictReader(f))
        return np.array([line["label"] for line in lines]), np.array([int(line["correct"]) for line in lines])

    by_id = {r["id"]: r for r in body["rows"]}
    for row in body["rows"]:
        labels, correct = outcomes(row)
        assert correct.mean() == row["accuracy"] and row["ci_strata"] == "class"
        assert row["accuracy_ci95"] == list(stats.bootstrap_ci(correct, strata=labels))
    assert body["comparisons"]
    for c in body["comparisons"]:
        (_, a), (_, b) = outcomes(by_id[c["a"]]), outcomes(by_id[c["b"]])
        assert c["mcnemar_p"] == stats.mcnemar_exact(a, b) and c["difference"] == a.mean() - b.mean()


@pytest.mark.slow
def test_override_k(toy_data_dir, tmp_path):
    result = _main(tmp_path, "--config.knn.k=5", "--config.knn.metric=cosine", data_dir=toy_data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {(r["k"], r["metric"]) for r in _protocol_rows(_rows(tmp_path))} == {(5, "cosine")}


def test_mistyped_key_fails_naming_it(tmp_path):
    result = _main(tmp_path, "--config.knn.kk=5")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --config.knn.kk: the config has no field 'kk' under 'knn'")
    assert not os.path.exists(os.path.join(tmp_path, "results.json"))


def test_unknown_mode_fails_clearly(tmp_path):
    result = _main(tmp_path, "--config.mode=nope")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: unknown mode 'nope'; modes: knn, zeroshot, curves, finetune, diagnose, pretrain, table"
    ]
    assert json.loads((tmp_path / "status.json").read_text())["state"] == "failed"
    assert "Traceback" in (tmp_path / "log.txt").read_text()  # the traceback goes to the log only
