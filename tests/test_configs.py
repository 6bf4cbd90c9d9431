"""Every experiment file loads, names a registered encoder and a mode that exists."""

import glob
import importlib
import importlib.util
import os

import pytest

from gesture_jax import config_lib, models, modes, paper_numbers, prompts, run_context

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
    if not config.encoder.checkpoint:  # random-init encoders build as configured
        run_context.open_encoder(config.encoder)


def test_paper_rows_expect_converted_checkpoints():
    rows = [
        p for p in CONFIGS if p.startswith("configs/paper/") and not p.endswith(("table.py", "curves.py"))
    ]
    assert sorted(os.path.basename(p)[:-3] for p in rows) == sorted(paper_numbers.PAPER_KNN_GROUND)
    for path in rows:
        config = _load(path).get_config()
        assert config.encoder.checkpoint == "checkpoints/" + os.path.basename(path)[:-3]
        assert (config.knn.k, config.knn.metric) == (3, "l2")
        assert config.knn.galleries == ("rocog_v2/syn_ground:train", "rocog_v2/real_ground:train")
        assert config.knn.queries == ("rocog_v2/real_ground:test",)
        air = _load(path).get_config("air")
        assert air.knn.galleries == ("rocog_v2/syn_air:train", "rocog_v2/real_air:train")
        assert air.knn.queries == ("rocog_v2/real_air:test",)
        cross = _load(path).get_config("cross")
        assert cross.knn.galleries == config.knn.galleries and cross.knn.queries == air.knn.queries
    table = config_lib.load_file("configs/paper/table.py")
    assert [t.split("/")[-1] for t in table.table.rows] == [f"{n}.py" for n in paper_numbers.PAPER_KNN_GROUND]
    assert config_lib.load_file("configs/paper/table.py:air").table.rows[0].endswith(".py:air")


def test_diagnose_configs_one_per_paper_row_and_protocol():
    """configs/diagnose/<row>.py: the paper row's encoder and checkpoint, the protocol's splits, and
    curation chosen on the query view's real train split, never its test split."""
    rows = [p for p in CONFIGS if p.startswith("configs/diagnose/") and not p.endswith("demo.py")]
    assert sorted(os.path.basename(p)[:-3] for p in rows) == sorted(paper_numbers.PAPER_KNN_GROUND)
    for path in rows:
        row = os.path.basename(path)[:-3]
        paper = config_lib.load_file(f"configs/paper/{row}.py")
        for protocol, (galleries, (queries,)) in config_lib.KNN_PROTOCOLS.items():
            config = config_lib.load_file(f"{path}:{protocol}")
            assert config.mode == "diagnose" and config.encoder.to_dict() == paper.encoder.to_dict()
            d = config.diagnose
            assert (d.synthetic, d.real_gallery, d.queries) == (*galleries, queries)
            assert d.selection == queries.replace(":test", ":train") != queries
        assert config_lib.load_file(path).diagnose.queries == "rocog_v2/real_ground:test"
        with pytest.raises(ValueError, match="unknown protocol 'sky'"):
            config_lib.load_file(f"{path}:sky")


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
    rows = [p for p in CONFIGS if p.startswith("configs/finetune/")]
    assert len(rows) >= 3
    demo = config_lib.load_file("configs/demo_finetune.py:unseen").finetune
    for path in rows:
        paper = _load(path.replace("configs/finetune/", "configs/paper/")).get_config()
        every, unseen = _load(path).get_config(), _load(path).get_config("unseen")
        assert every.encoder.checkpoint == unseen.encoder.checkpoint == paper.encoder.checkpoint
        assert (
            every.finetune.heldout_classes == () and unseen.finetune.heldout_classes == demo.heldout_classes
        )
        held = [prompts.ROCOG_V2_CLASSES[c] for c in unseen.finetune.heldout_classes]
        assert held == ["Rally", "FollowMe"]
        assert unseen.finetune.test_split == "rocog_v2/real_ground:test"
        assert unseen.finetune.alphas == (0.0, 0.25, 0.5, 0.75, 1.0)
        with pytest.raises(ValueError, match="no argument or 'unseen'"):
            _load(path).get_config("air")
