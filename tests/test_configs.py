"""Every experiment file loads, names a registered encoder and a mode that exists."""

import glob
import importlib
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from gesture_jax import config_lib, models, modes
from gesture_jax.evaluation import engine, paper_numbers, run_context
from gesture_jax.text import prompts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "configs", "**", "*.py"), recursive=True)
)


def _load(path):
    spec = importlib.util.spec_from_file_location("config_under_test", os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow_variants
@pytest.mark.parametrize("path", CONFIGS)
def test_config_loads(path):
    module = _load(path)
    assert "python -m gesture_jax.main --config " + path in module.__doc__  # its run command
    config = module.get_config()
    modes.get(config.mode)
    if config.mode == "table":  # a table's rows are experiment files of their own
        for reference in config.table.rows:
            config_lib.load_file(reference)
        return
    models.get(config.encoder.name)
    for name in config.get("evals", ()):
        module = engine.get(name)  # every evaluator it lists exists
        if name != "zeroshot" and hasattr(module, "check"):  # zero-shot's check reads the vocabulary file
            module.check(config)
    if not config.encoder.checkpoint:  # random-init encoders build as configured
        run_context.open_encoder(config.encoder)


def test_paper_rows_expect_converted_checkpoints():
    """configs/paper/knn.py:<row>[,<protocol>]: one row per paper encoder, in the reported table's order."""
    assert list(config_lib.PAPER_ROWS) == list(paper_numbers.PAPER_KNN_GROUND)
    for row, entry in config_lib.PAPER_ROWS.items():
        config = config_lib.load_file(f"configs/paper/knn.py:{row}")
        assert (config.encoder.name, config.encoder.checkpoint) == (entry.encoder, f"checkpoints/{row}")
        models.get(entry.encoder)
        assert (config.knn.k, config.knn.metric) == (3, "l2")
        assert config.knn.galleries == ("rocog_v2/syn_ground:train", "rocog_v2/real_ground:train")
        assert config.knn.queries == ("rocog_v2/real_ground:test",)
        air = config_lib.load_file(f"configs/paper/knn.py:{row},air")
        assert air.knn.galleries == ("rocog_v2/syn_air:train", "rocog_v2/real_air:train")
        assert air.knn.queries == ("rocog_v2/real_air:test",)
        cross = config_lib.load_file(f"configs/paper/knn.py:{row},cross")
        assert cross.knn.galleries == config.knn.galleries and cross.knn.queries == air.knn.queries
    with pytest.raises(ValueError, match="configs/paper/knn.py takes one of umt_b16_pt_k710, viclip_b16"):
        config_lib.load_file("configs/paper/knn.py:viclip")
    with pytest.raises(ValueError, match="takes ground or air or cross after ',', got 'sky'"):
        config_lib.load_file("configs/paper/knn.py:viclip_b16,sky")
    table = config_lib.load_file("configs/paper/table.py")
    assert table.table.names == tuple(paper_numbers.PAPER_KNN_GROUND)
    assert table.table.rows == tuple(f"configs/paper/knn.py:{n}" for n in paper_numbers.PAPER_KNN_GROUND)
    air = config_lib.load_file("configs/paper/table.py:air").table
    assert (air.names[0], air.rows[0]) == ("umt_b16_pt_k710:air", "configs/paper/knn.py:umt_b16_pt_k710,air")


def test_diagnose_config_covers_every_paper_row_and_protocol():
    """configs/diagnose/rocog_v2.py:<row>[,<protocol>]: the paper row's encoder and checkpoint, the
    protocol's splits, and curation chosen on the query view's real train split, never its test split."""
    for row in config_lib.PAPER_ROWS:
        paper = config_lib.load_file(f"configs/paper/knn.py:{row}")
        for protocol, (galleries, (queries,)) in config_lib.KNN_PROTOCOLS.items():
            config = config_lib.load_file(f"configs/diagnose/rocog_v2.py:{row},{protocol}")
            assert config.mode == "diagnose" and config.encoder.to_dict() == paper.encoder.to_dict()
            d = config.diagnose
            assert (d.synthetic, d.real_gallery, d.queries) == (*galleries, queries)
            assert d.selection == queries.replace(":test", ":train") != queries
        default = config_lib.load_file(f"configs/diagnose/rocog_v2.py:{row}")
        assert default.diagnose.queries == "rocog_v2/real_ground:test"
    with pytest.raises(ValueError, match="got 'sky'"):
        config_lib.load_file("configs/diagnose/rocog_v2.py:viclip_b16,sky")


@pytest.mark.parametrize(
    "old, new",
    [
        ("configs/paper/viclip_b16.py", "configs/paper/knn.py:viclip_b16"),
        ("configs/paper/umt_b16_ft_k710.py:air", "configs/paper/knn.py:umt_b16_ft_k710,air"),
        ("configs/diagnose/umt_b16_pt_k710.py:cross", "configs/diagnose/rocog_v2.py:umt_b16_pt_k710,cross"),
        ("configs/finetune/viclip_b16.py:unseen", "configs/finetune/rocog_v2.py:viclip_b16,unseen"),
        ("configs/zeroshot/videoprism_lvt_b.py", "configs/zeroshot/rocog_v2.py:videoprism-lvt-b"),
    ],
)
def test_a_per_encoder_file_of_earlier_versions_names_its_replacement(old, new, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(FileNotFoundError, match=f"that file is gone; the same experiment is {new}$"):
        config_lib.load_file(old)
    assert config_lib.moved(old) == new
    assert config_lib.load_file(new).mode  # and the replacement loads
    assert config_lib.moved("configs/paper/no_such_row.py") is None


def test_more_encoders_configs_cover_every_new_family():
    """configs/more_encoders: one KNN row per registered encoder of the families added after the paper,
    each expecting its converted checkpoint, and a table of them all per protocol."""
    knn = config_lib.load_module("configs/more_encoders/knn.py")
    names = knn.encoders()
    assert {models.get(n).family for n in names} == set(knn.FAMILIES)
    assert {"vjepa2-vitl", "videoprism-lvt-b", "siglip2-b16", "dinov2-g14", "videomae-hf-b16"} <= set(names)
    for name in names:
        row = config_lib.load_file(f"configs/more_encoders/knn.py:{name}")
        assert (row.encoder.name, row.encoder.checkpoint) == (name, f"checkpoints/{name}")
        assert row.knn.queries == ("rocog_v2/real_ground:test",)
    air = config_lib.load_file("configs/more_encoders/knn.py:siglip2-b16,air")
    assert air.knn.queries == ("rocog_v2/real_air:test",)
    with pytest.raises(ValueError, match="takes one of"):
        config_lib.load_file("configs/more_encoders/knn.py:umt-b16")
    table = config_lib.load_file("configs/paper/more_encoders_table.py:cross")
    assert table.table.rows == tuple(f"configs/more_encoders/knn.py:{n},cross" for n in names)


def test_rocog_fine_tuning_configs_hold_out_classes_like_the_demo():
    demo = config_lib.load_file("configs/demo_finetune.py:unseen").finetune
    for row in config_lib.PAPER_ROWS:
        paper = config_lib.load_file(f"configs/paper/knn.py:{row}")
        every = config_lib.load_file(f"configs/finetune/rocog_v2.py:{row}")
        unseen = config_lib.load_file(f"configs/finetune/rocog_v2.py:{row},unseen")
        assert every.encoder.checkpoint == unseen.encoder.checkpoint == paper.encoder.checkpoint
        assert (
            every.finetune.heldout_classes == () and unseen.finetune.heldout_classes == demo.heldout_classes
        )
        held = [prompts.ROCOG_V2_CLASSES[c] for c in unseen.finetune.heldout_classes]
        assert held == ["Rally", "FollowMe"]
        assert unseen.finetune.test_split == "rocog_v2/real_ground:test"
        assert unseen.finetune.alphas == (0.0, 0.25, 0.5, 0.75, 1.0)
    with pytest.raises(ValueError, match="takes unseen after ',', got 'air'"):
        config_lib.load_file("configs/finetune/rocog_v2.py:viclip_b16,air")


def test_zeroshot_config_covers_every_text_tower():
    for name, entry in config_lib.ZEROSHOT_ENCODERS.items():
        config = config_lib.load_file(f"configs/zeroshot/rocog_v2.py:{name}")
        assert (config.mode, config.encoder.name, config.encoder.checkpoint) == (
            "zeroshot",
            name,
            entry.checkpoint,
        )
        assert config.zeroshot.vocab_path == entry.vocab_path
        models.get(name)
    assert config_lib.load_file("configs/zeroshot/rocog_v2.py").encoder.name == "viclip-b16"
    with pytest.raises(ValueError, match="takes one of viclip-b16"):
        config_lib.load_file("configs/zeroshot/rocog_v2.py:viclip_b16")


def test_the_entry_point_names_the_experiment_that_replaced_a_file(tmp_path):
    """Before any JAX start-up: one line naming the new experiment, no traceback; the workdir marked
    failed."""
    old = ["--config", "configs/paper/viclip_b16.py:air", "--workdir", str(tmp_path / "run")]
    done = subprocess.run(
        [sys.executable, "-m", "gesture_jax.main", *old], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "error: configs/paper/viclip_b16.py:air: that file is gone; the same experiment is "
        "configs/paper/knn.py:viclip_b16,air\n"
    )
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "failed" and "configs/paper/knn.py:viclip_b16,air" in status["error"]


def test_config_json_records_the_folders_a_run_uses(monkeypatch, tmp_path):
    """An empty data_dir or cache_dir is written as the folder it stands for; what was given, as given."""
    monkeypatch.chdir(ROOT)
    from tensorflow_datasets.core import constants

    config = config_lib.load_file("configs/demo.py:smoke")
    used = config_lib.as_used(config, str(tmp_path))
    assert (used.data.data_dir, used.extract.cache_dir) == (constants.DATA_DIR, str(tmp_path / "features"))
    assert (
        config.data.data_dir == "" and used.knn.to_dict() == config.knn.to_dict()
    )  # the run's own: as given
    with config.unlocked():
        config.data.data_dir, config.extract.cache_dir = "/d", "/c"
    given = config_lib.as_used(config, "/w")
    assert (given.data.data_dir, given.extract.cache_dir) == ("/d", "/c")
