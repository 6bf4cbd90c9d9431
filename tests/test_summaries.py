"""Training logs: TensorBoard's own reader reads the event files (tags, steps, values, resumed runs);
JSON lines round-trip and append."""

import os

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

from gesture_jax.train import summaries


def _scalars(logdir: str) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)]} as TensorBoard loads the directory (every event file in it)."""
    acc = event_accumulator.EventAccumulator(logdir, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_reads_the_event_files(tmp_path):
    workdir = str(tmp_path)
    with summaries.Summaries(workdir, enabled=True) as logs:
        logs.write(5, {"train/loss": np.float32(0.75), "train/accuracy": 0.5})
        logs.write(10, {"train/loss": 0.25, "train/accuracy": 0.625})
        logs.write(10, {"val/accuracy": 0.4})
        logs.write(2**40, {"train/loss": -1.0})
    got = _scalars(os.path.join(workdir, summaries.TENSORBOARD_DIR))
    assert got == {
        "train/loss": [(5, 0.75), (10, 0.25), (2**40, -1.0)],
        "train/accuracy": [(5, 0.5), (10, 0.625)],
        "val/accuracy": [(10, pytest.approx(0.4))],
    }


def test_a_resumed_run_continues_the_curves(tmp_path):
    workdir = str(tmp_path)
    for step in (1, 2):  # two runs of one step each: two event files, one run in TensorBoard
        with summaries.Summaries(workdir, enabled=True) as logs:
            logs.write(step, {"train/loss": 1.0 / step})
    assert len(os.listdir(tmp_path / summaries.TENSORBOARD_DIR)) == 2
    assert _scalars(str(tmp_path / summaries.TENSORBOARD_DIR)) == {"train/loss": [(1, 1.0), (2, 0.5)]}
    records = summaries.MetricsLog.read(str(tmp_path / summaries.METRICS_FILE))
    assert [(r["step"], r["train/loss"]) for r in records] == [(1, 1.0), (2, 0.5)]


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


def test_disabled_summaries_create_nothing(tmp_path):
    workdir = tmp_path / "run"
    logs = summaries.Summaries(str(workdir), enabled=False)
    logs.write(1, {"loss": 1.0})
    logs.flush()
    logs.close()
    assert not workdir.exists()


def test_the_loop_closes_its_logs_when_a_run_is_interrupted(tmp_path, monkeypatch):
    """Ctrl-C mid-training: the logs are closed on the way out (an open TensorBoard writer would print a
    traceback at interpreter exit), and the interrupt goes on to the entry point."""
    from gesture_jax.train import loop

    closed, close = [], summaries.Summaries.close
    monkeypatch.setattr(summaries.Summaries, "close", lambda self: closed.append(True) or close(self))

    class Stopping:
        def step(self, state, batch):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        loop.train(Stopping(), {}, iter([None]), None, start_step=0, num_steps=3, global_batch=1,
                   log_every=1, checkpoint_every=1, validate=lambda s: 0.0, logdir=str(tmp_path),
                   is_main=True)  # fmt: skip
    assert closed == [True]
