"""Mode table: several experiment files as one report, shared feature cache, failures listed."""

import json
import os

import ml_collections
import pytest

from gesture_jax import config_lib
from gesture_jax.modes import table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(toy_data_dir, rows, keep_going=True):
    config = ml_collections.ConfigDict()
    config.mode = "table"
    config.data = config_lib.data(data_dir=toy_data_dir)
    config.extract = config_lib.extract()
    config.table = ml_collections.ConfigDict(
        {"rows": rows, "reported": "", "keep_going": keep_going, "title": "toy table"}
    )
    return config


@pytest.mark.slow
def test_rows_run_with_a_shared_cache_and_failures_are_listed(toy_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # rows are paths relative to the repository, as on the command line
    rows = ("configs/demo.py:smoke", "configs/paper/knn.py:umt_b16_ft_k710")  # the second has no checkpoint
    with pytest.raises(ValueError, match="1 of 2 table rows failed"):
        table.run(_config(toy_data_dir, rows), str(tmp_path))
    results = json.load(open(tmp_path / "results.json"))["rows"]
    assert {r["row"] for r in results} == {"demo:smoke"}
    assert len([r for r in results if "protocol" in r.get("roles", ())]) == 2  # one per gallery
    text = (tmp_path / "results.md").read_text()
    assert "| demo:smoke · KNN k=3, l2 (paper's protocol) |" in text
    assert "## Failed rows" in text and "knn:umt_b16_ft_k710: FileNotFoundError" in text
    assert len(os.listdir(tmp_path / "features")) == 4  # the row used the table's cache (+ synthetic val)
    assert (tmp_path / "rows" / "demo:smoke" / "results.json").exists()


def test_without_keep_going_the_first_failure_stops(toy_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(FileNotFoundError):
        table.run(
            _config(toy_data_dir, ("configs/paper/knn.py:viclip_b16",), keep_going=False), str(tmp_path)
        )


def test_row_names():
    assert table.row_name("configs/demo.py") == "demo"
    assert table.row_name("configs/demo.py:smoke") == "demo:smoke"


def test_the_table_names_its_rows(toy_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    config = _config(toy_data_dir, ("configs/demo.py:smoke", "configs/paper/knn.py:viclip_b16,air"))
    with config.unlocked():
        config.table.names = ("one",)
    with pytest.raises(ValueError, match="table.names has 1 names for 2 table.rows"):
        table.run(config, str(tmp_path))
