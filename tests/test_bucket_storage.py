"""A workdir in a bucket (gs://, through etils.epath), as on a TPU pod: results, log, config and the
feature cache land in the bucket, and a rerun reads the cache back from it.

The bucket is a local stand-in (tests/fake_gcs) registered as fsspec's gcs filesystem in the subprocess.
"""

import json
import os

import pytest
from main_runs import ROOT, run_main


@pytest.mark.slow
def test_demo_with_a_gs_workdir(tmp_path, toy_data_dir):
    bucket = tmp_path / "gcs"
    env = {"FAKE_GCS_ROOT": str(bucket), "PYTHONPATH": os.path.join(ROOT, "tests", "fake_gcs")}
    flags = (f"--config.data.data_dir={toy_data_dir}",)
    result = run_main("configs/demo.py:smoke", "gs://my-bucket/runs/demo", *flags, devices=1, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = bucket / "my-bucket" / "runs" / "demo"
    rows = json.loads((out / "results.json").read_text())["rows"]
    headline = [r for r in rows if "confusion_png" in r]
    assert len(headline) >= 2 and all((out / r["confusion_png"]).stat().st_size > 1000 for r in headline)
    assert all((out / r["predictions_csv"]).read_text().startswith("id,label,prediction") for r in rows)
    assert json.loads((out / "config.json").read_text())["mode"] == "knn"
    assert "toy-vit-pretrained (frozen)" in (out / "log.txt").read_text()
    assert len(list((out / "features").glob("*/features.npz"))) == 4  # + the synthetic val split
    assert not (tmp_path / "gs:").exists() and not os.path.exists(os.path.join(ROOT, "gs:"))

    again = run_main("configs/demo.py:smoke", "gs://my-bucket/runs/demo", *flags, devices=1, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("cached at gs://my-bucket/runs/demo/features/") == 4
    assert json.loads((out / "results.json").read_text())["rows"] == rows
    assert (out / "log.txt").read_text().count("mode knn, workdir gs://my-bucket/runs/demo") == 2


def test_logs_and_summaries_append_in_a_bucket(tmp_path, monkeypatch):
    """Buckets cannot append: metrics.jsonl, TensorBoard events and log.txt are rewritten whole on flush,
    and a resumed run continues them."""
    import runpy

    from gesture_jax.infra import storage
    from gesture_jax.train import summaries

    monkeypatch.setenv("FAKE_GCS_ROOT", str(tmp_path))
    runpy.run_path(os.path.join(ROOT, "tests", "fake_gcs", "sitecustomize.py"))  # registers gs:// here
    run = "gs://bucket/run"
    for step in (1, 2):  # two "runs" of one step each: the second continues the files
        with summaries.Summaries(run, enabled=True) as logs:
            logs.write(step, {"loss": 1.0 / step})
    records = summaries.MetricsLog.read(f"{run}/{summaries.METRICS_FILE}")
    assert [(r["step"], r["loss"]) for r in records] == [(1, 1.0), (2, 0.5)]
    events = list((tmp_path / "bucket" / "run" / summaries.TENSORBOARD_DIR).glob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)

    log = storage.AppendFile(f"{run}/log.txt")
    log.write("first\n")
    assert not (tmp_path / "bucket" / "run" / "log.txt").exists()  # nothing uploaded before a flush
    log.close()
    again = storage.AppendFile(f"{run}/log.txt")
    again.write("second\n")
    again.close()
    assert (tmp_path / "bucket" / "run" / "log.txt").read_text() == "first\nsecond\n"
    storage.write_json(f"{run}/final.json", {"step": 2})
    assert json.loads(storage.read_text(f"{run}/final.json")) == {"step": 2}
    assert not list(tmp_path.glob("**/.final.json*"))  # no temporary left beside it
