"""Every experiment file loads, names a registered encoder and a mode that exists."""

import glob
import importlib
import importlib.util
import os

import pytest

from gesture_jax import models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "configs", "**", "*.py"), recursive=True)
)


def _load(path):
    spec = importlib.util.spec_from_file_location("config_under_test", os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", CONFIGS)
def test_config_loads(path):
    module = _load(path)
    assert "python -m gesture_jax.main --config " + path in module.__doc__  # its run command
    config = module.get_config()
    importlib.import_module(f"gesture_jax.modes.{config.mode}")
    models.get(config.encoder.name)
    if not config.encoder.checkpoint:  # random-init encoders build as configured
        models.from_config(config.encoder)


def test_paper_rows_expect_converted_checkpoints():
    rows = [p for p in CONFIGS if p.startswith("configs/paper/")]
    assert len(rows) == 9
    for path in rows:
        config = _load(path).get_config()
        assert config.encoder.checkpoint == "checkpoints/" + os.path.basename(path)[:-3]
        assert (config.knn.k, config.knn.metric) == (3, "l2")
        assert config.knn.galleries == ("rocog_v2/syn_ground:train", "rocog_v2/real_ground:train")
        assert config.knn.queries == ("rocog_v2/real_ground:test",)
