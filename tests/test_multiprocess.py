"""Two processes with four CPU devices each give the results of one process with eight.

Started as a user would on two hosts: the same command per process, either with the coordinator flags
or from a launcher's environment (SLURM's srun variables here) that `parallel.initialize` detects.
"""

import glob
import json
import os
import socket

import pytest
from main_runs import run_main, start_main

CONFIG = "configs/demo.py:smoke"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _outputs(workdir) -> dict[str, str]:
    """results.json and every per-video predictions file, as text."""
    paths = [os.path.join(workdir, "results.json"), *glob.glob(os.path.join(workdir, "predictions_*.csv"))]
    return {os.path.basename(p): open(p).read() for p in sorted(paths)}


def _coordinator_flags(i: int, address: str) -> tuple[str, ...]:
    return (f"--coordinator_address={address}", "--num_processes=2", f"--process_id={i}")


def _run_two(config, workdir, flags_of, env_of=lambda i: {}) -> list[tuple[str, str]]:
    """`config` as processes 0 and 1 with 4 devices each, `flags_of(i)` / `env_of(i)` per process; both
    must succeed. Returns each process's (stdout, stderr)."""
    processes = [start_main(config, workdir, *flags_of(i), devices=4, env=env_of(i)) for i in range(2)]
    results = [p.communicate(timeout=400) for p in processes]
    for p, (_, err) in zip(processes, results):
        assert p.returncode == 0, err[-3000:]
    return results


def _with_coordinator(*flags: str):
    """flags_of for `_run_two`: the same `flags` on both processes, plus the coordinator flags."""
    address = f"127.0.0.1:{_free_port()}"
    return lambda i: (*flags, *_coordinator_flags(i, address))


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, toy_data_dir):
    workdir = tmp_path_factory.mktemp("one_process")
    result = run_main(CONFIG, workdir, f"--config.data.data_dir={toy_data_dir}", devices=8)
    assert result.returncode == 0, result.stderr[-3000:]
    return _outputs(workdir)


def test_two_processes_with_flags_match_one(one_process, toy_data_dir, tmp_path):
    results = _run_two(CONFIG, tmp_path, _with_coordinator(f"--config.data.data_dir={toy_data_dir}"))
    assert len(one_process) > 3  # results.json and a predictions file per row
    assert _outputs(tmp_path) == one_process
    (out0, err0), (out1, err1) = results
    assert "JAX process 1 of 2, 4 local / 8 global devices" in err1
    assert (
        "| toy-vit-pretrained (frozen) · " in out0 and "| toy-vit-pretrained (frozen) · " not in out1
    )  # only process 0 reports
    rows = json.loads(one_process["results.json"])["rows"]
    assert all(r["num_queries"] == 21 for r in rows)


def test_two_processes_from_a_slurm_environment_match_one(one_process, toy_data_dir, tmp_path):
    slurm = {
        "SLURM_JOB_ID": "4242",
        "SLURM_STEP_NODELIST": "localhost",
        "SLURM_NTASKS": "2",
        # JAX derives the port from the job id unless told; a free one keeps parallel test runs apart.
        "JAX_COORDINATOR_PORT": str(_free_port()),
    }
    results = _run_two(
        CONFIG,
        tmp_path,
        flags_of=lambda i: (f"--config.data.data_dir={toy_data_dir}",),
        env_of=lambda i: {**slurm, "SLURM_PROCID": str(i), "SLURM_LOCALID": str(i)},
    )
    assert "multi-process launch detected (SlurmCluster)" in results[0][1]
    assert _outputs(tmp_path) == one_process


@pytest.mark.parametrize("disks", ["shared", "one_per_process"])
def test_two_processes_build_a_missing_toy_set(one_process, tmp_path, disks):
    """Process 0 builds into a shared data_dir while the other waits; a host with its own (empty)
    data_dir, as a TPU worker's disk, builds its own copy. Either way: the one-process results."""
    data_dirs = [tmp_path / "data"] * 2 if disks == "shared" else [tmp_path / f"data{i}" for i in range(2)]
    address = f"127.0.0.1:{_free_port()}"

    def flags_of(i):
        return (f"--config.data.data_dir={data_dirs[i]}", *_coordinator_flags(i, address))

    errors = [err for _, err in _run_two(CONFIG, tmp_path / "workdir", flags_of)]
    assert ("building toy_gestures/real_small into this host's" in errors[1]) == (disks == "one_per_process")
    assert "building toy_gestures/real_small into" in errors[0]
    assert _outputs(tmp_path / "workdir") == one_process


def test_fine_tuning_on_two_processes_gives_the_same_weights(toy_data_dir, tmp_path):
    """Gradients are summed across devices in one fixed order, so 2 × 4 devices train bit-identically
    to 1 × 8 (an all-reduce across processes adds in another order): same checksum, same metrics."""
    flags = (
        f"--config.data.data_dir={toy_data_dir}",
        "--config.finetune.num_steps=6",
        "--config.finetune.checkpoint_every=3",
    )
    one = run_main("configs/demo_finetune.py:smoke", tmp_path / "one", *flags, devices=8, timeout=400)
    assert one.returncode == 0, one.stderr[-3000:]
    _run_two("configs/demo_finetune.py:smoke", tmp_path / "two", _with_coordinator(*flags))
    final = [json.loads((tmp_path / name / "final.json").read_text()) for name in ("one", "two")]
    assert final[0]["step"] == 6 and final[0] == final[1]
    metrics = [(tmp_path / name / "metrics.jsonl").read_text().splitlines() for name in ("one", "two")]
    strip = [
        [{k: v for k, v in json.loads(line).items() if k != "time" and "per_second" not in k} for line in m]
        for m in metrics
    ]
    assert strip[0] == strip[1] and len(strip[0]) >= 3


def _two_against_one(config: str, tmp_path, *flags: str) -> None:
    """`config` on 1 process × 8 devices and on 2 processes × 4: the same results and predictions."""
    one = run_main(config, tmp_path / "one", *flags, devices=8)
    assert one.returncode == 0, one.stderr[-3000:]
    _run_two(config, tmp_path / "two", _with_coordinator(*flags))
    assert _outputs(tmp_path / "two") == _outputs(tmp_path / "one")


def test_curves_on_two_processes_match_one(toy_data_dir, tmp_path):
    _two_against_one("configs/curves/demo.py:smoke", tmp_path, f"--config.data.data_dir={toy_data_dir}")
    assert (tmp_path / "two" / "curves_toy_gestures-real_small-test.png").stat().st_size > 1000


def test_diagnose_on_two_processes_matches_one(toy_data_dir, tmp_path):
    """The gap numbers, the attribution's many masked KNN runs and the curation: the same on 2 × 4
    devices as on 1 × 8, and written once."""
    flags = (f"--config.data.data_dir={toy_data_dir}", "--config.diagnose.num_permutations=20")
    _two_against_one("configs/diagnose/demo.py:smoke", tmp_path, *flags)
    for name in ("domain_gap.json", "attribution.csv"):
        assert (tmp_path / "two" / name).read_text() == (tmp_path / "one" / name).read_text()


def test_zeroshot_on_two_processes_matches_one(toy_data_dir, tmp_path):
    from test_zeroshot import _write_small_merges  # a few real-format merges: no download needed

    vocab = _write_small_merges(tmp_path / "merges.txt.gz")
    flags = (f"--config.data.data_dir={toy_data_dir}", f"--config.zeroshot.vocab_path={vocab}")
    _two_against_one("configs/zeroshot/demo.py:smoke", tmp_path, *flags)
    # per prompt set its ensemble, per set of several prompts each single one (6 + 6), and per few-shot
    # gallery and shot count text + examples, examples only and text only (2 × 2 × 3)
    assert len(list((tmp_path / "two").glob("predictions_*.csv"))) == 5 + 12 + 12
