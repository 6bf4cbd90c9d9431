"""A workdir in a bucket (gs://, through etils.epath), as on a TPU pod: results, log, config and the
feature cache land in the bucket, and a rerun reads the cache back from it.

The bucket is a local stand-in (tests/fake_gcs) registered as fsspec's gcs filesystem in the subprocess.
"""

import json
import os

from main_runs import ROOT, run_main


def test_demo_with_a_gs_workdir(tmp_path, toy_data_dir):
    bucket = tmp_path / "gcs"
    env = {"FAKE_GCS_ROOT": str(bucket), "PYTHONPATH": os.path.join(ROOT, "tests", "fake_gcs")}
    flags = (f"--config.data.data_dir={toy_data_dir}",)
    result = run_main("configs/demo.py:smoke", "gs://my-bucket/runs/demo", *flags, devices=2, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = bucket / "my-bucket" / "runs" / "demo"
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert len(rows) == 2 and all((out / r["confusion_png"]).stat().st_size > 1000 for r in rows)
    assert all((out / r["predictions_csv"]).read_text().startswith("id,label,prediction") for r in rows)
    assert json.loads((out / "config.json").read_text())["mode"] == "knn"
    assert "toy-vit (frozen)" in (out / "log.txt").read_text()
    assert len(list((out / "features").glob("*/features.npz"))) == 3
    assert not (tmp_path / "gs:").exists() and not os.path.exists(os.path.join(ROOT, "gs:"))

    again = run_main("configs/demo.py:smoke", "gs://my-bucket/runs/demo", *flags, devices=2, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("cached at gs://my-bucket/runs/demo/features/") == 3
    assert json.loads((out / "results.json").read_text())["rows"] == rows
    assert (out / "log.txt").read_text().count("mode knn, workdir gs://my-bucket/runs/demo") == 2
