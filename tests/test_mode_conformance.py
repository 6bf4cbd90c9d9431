"""The mode conformance kit: every mode's shrunk demo (tests/mode_cases.py, one line a mode) passes the
same checks. Its rows carry intervals and ids unique to each row; one device gives the eight-device
results; two processes of four devices give the one-process results, written once (started by the
coordinator flags or from SLURM's environment, reading given toy sets or building them into empty data
dirs, shared or one per process, as each case says); a rerun in the same workdir resumes from what the
first run left (cached features, the final checkpoint) and reports the same.
"""

import json
import logging
import os
import re
import shutil

import pytest
from main_runs import coordinator_flags, free_port, run_two, slurm_env
from mode_cases import CASES, as_flags, load_config, outputs, run_here

from gesture_jax.evaluation import report

pytestmark = pytest.mark.slow
MODES = sorted(CASES)


def _saved_rows(workdir) -> list[dict]:
    with open(os.path.join(workdir, "results.json")) as f:
        return json.load(f)["rows"]


@pytest.mark.parametrize("name", MODES)
def test_rows_carry_intervals_and_unique_ids(mode_runs, name):
    run = mode_runs.reference(name)
    saved = _saved_rows(run.workdir)
    assert saved and [r["id"] for r in saved] == [
        report.row_json(r)["id"] for r in run.rows
    ]  # what `run` returned is saved
    assert len({r["id"] for r in saved}) == len(saved)
    for row in saved:
        for metric in ("accuracy", "mean_class_accuracy"):
            lo, hi = row[f"{metric}_ci95"]
            assert 0.0 <= lo <= row[metric] <= hi <= 1.0, (row["id"], metric)
        # Every per-row file is named by the row's id.
        assert row["id"] in row["predictions_csv"] and os.path.exists(
            os.path.join(run.workdir, row["predictions_csv"])
        )


@pytest.mark.parametrize("name", MODES)
def test_one_device_gives_the_eight_device_results(mode_runs, name):
    case = CASES[name]
    names = tuple(n for n in case.more_outputs if n not in case.rounding_only)
    one, eight = mode_runs.one_device(name), mode_runs.reference(name)
    assert "JAX process 0 of 1, 1 local / 1 global devices" in one.stderr
    assert outputs(one.workdir, names) == outputs(eight.workdir, names)  # every row, interval and file
    # A finished run says so in its workdir, and its last printed line names its report.
    with open(os.path.join(one.workdir, "status.json")) as f:
        assert json.load(f)["state"] == "finished"
    assert one.stdout.rstrip("\n").splitlines()[-1] == f"results: {os.path.join(one.workdir, 'results.md')}"


def _metrics(workdir) -> list[dict]:
    """The training log without its clock-time fields."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    return [{k: v for k, v in m.items() if k != "time" and "per_second" not in k} for m in lines]


@pytest.mark.parametrize("name", MODES)
def test_two_processes_give_the_one_process_results(mode_runs, name, tmp_path):
    """2 processes × 4 devices against 1 × 8, from the same command per process: the same files, written
    by process 0 alone. Training sums gradients across devices in one fixed order, so fine-tuning is
    bit-identical too (weights checksum in final.json, the training log). The processes find each other
    by the coordinator flags or, for the cases that say so, from a launcher's environment (SLURM's srun
    variables); a case may start from empty data dirs: one that both processes see (process 0 builds
    while process 1 waits for it) or one per process (each builds its own copy, as on TPU workers)."""
    case, reference = CASES[name], mode_runs.reference(name)
    fields = mode_runs.fields(name)
    data_dirs = {
        "given": lambda i: fields["data.data_dir"],
        "shared": lambda i: str(tmp_path / "data"),
        "per_host": lambda i: str(tmp_path / f"data{i}"),
    }[case.two_process_data]
    slurm, address = case.launcher == "slurm", f"127.0.0.1:{free_port()}"

    def flags_of(i: int) -> tuple[str, ...]:
        flags = as_flags({**fields, "data.data_dir": data_dirs(i)})
        return flags if slurm else (*flags, *coordinator_flags(i, address))

    workdir = tmp_path / "workdir"
    results = run_two(case.config, workdir, flags_of, env_of=slurm_env() if slurm else lambda i: {})
    assert outputs(workdir, case.more_outputs) == outputs(reference.workdir, case.more_outputs)
    (out0, err0), (out1, err1) = results
    assert "JAX process 1 of 2, 4 local / 8 global devices" in err1
    assert "| " in out0 and "| " not in out1  # only process 0 prints the table
    if case.launcher == "slurm":
        assert "multi-process launch detected (SlurmCluster)" in err0
    building = re.compile(r"building toy_gestures/\w+ into")
    if case.two_process_data == "shared":
        assert building.search(err0) and not building.search(err1)
    if case.two_process_data == "per_host":
        assert building.search(err0) and re.search(r"building toy_gestures/\w+ into this host's", err1)
    if os.path.exists(os.path.join(reference.workdir, "metrics.jsonl")):
        assert _metrics(workdir) == _metrics(reference.workdir) and len(_metrics(workdir)) >= 3


@pytest.mark.parametrize("name", MODES)
def test_a_rerun_resumes_and_reports_the_same(mode_runs, name, tmp_path, caplog):
    case, reference = CASES[name], mode_runs.reference(name)
    workdir = shutil.copytree(reference.workdir, tmp_path / "again")
    with caplog.at_level(logging.INFO):
        rows = run_here(load_config(case, reference.fields), workdir)
    assert [report.row_json(r) for r in rows] == [report.row_json(r) for r in reference.rows]
    assert outputs(workdir, case.more_outputs) == outputs(reference.workdir, case.more_outputs)
    log = caplog.text
    assert "cached at" in log and "extracting " not in log  # every split's features from the cache
    if "finetune.num_steps" in dict(case.overrides):
        assert f"resuming from the checkpoint at step {dict(case.overrides)['finetune.num_steps']}" in log
