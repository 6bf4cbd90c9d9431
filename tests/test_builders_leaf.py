"""tfds_builders is a leaf: gesture_jax imports no builder, the entry points register them (a broken one
costs only its own datasets), and two processes that find one empty data_dir build a dataset once."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow_datasets as tfds
from absl import app
from main_runs import ROOT

import tfds_builders
from gesture_jax.data import build as build_cli
from gesture_jax.data import datasets

ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


def _python(script: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", script, *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


IMPORT_ALL = r"""
import importlib, json, pkgutil, sys
import gesture_jax
names = [m.name for m in pkgutil.walk_packages(gesture_jax.__path__, "gesture_jax.")]
for name in names:
    importlib.import_module(name)
builders = sorted(m for m in sys.modules if m == "tfds_builders" or m.startswith("tfds_builders."))
print(json.dumps({"modules": names, "builders": builders}))
"""


def test_gesture_jax_imports_no_builder():
    result = _python(IMPORT_ALL)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"gesture_jax.main", "gesture_jax.data.build", "gesture_jax.data.datasets"} <= set(out["modules"])
    assert out["builders"] == [], f"importing gesture_jax imported {out['builders']}"


BROKEN_BUILDER = r"""
import json, os, sys
import tensorflow_datasets as tfds
import tfds_builders
from gesture_jax.data import datasets

extra, data_dir = sys.argv[1:]
try:  # nothing registered yet: a clear error
    datasets.open_split("toy_gestures/real_small:test", data_dir)
    unregistered = None
except tfds.core.registered.DatasetNotFoundError as e:
    unregistered = str(e)
tfds_builders.__path__.append(extra)  # holds broken/, whose import raises
tfds_builders.BUILDERS = ("broken", *tfds_builders.BUILDERS)
failures = tfds_builders.register_all()
toy = tfds.builder("toy_gestures/real_small", data_dir=data_dir)
rocog = tfds.builder_cls("rocog_v2")
print(json.dumps({
    "unregistered": unregistered,
    "failures": {name: repr(e) for name, e in failures.items()},
    "toy": toy.name,
    "rocog": rocog.name,
}))
"""


def test_a_broken_builder_leaves_the_others_registered(tmp_path):
    extra = tmp_path / "extra"
    (extra / "broken").mkdir(parents=True)
    (extra / "broken" / "__init__.py").write_text("raise RuntimeError('this builder is broken')\n")
    result = _python(BROKEN_BUILDER, extra, tmp_path / "tfds")
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert "'toy_gestures/real_small'" in out["unregistered"] and "register_all()" in out["unregistered"]
    assert out["failures"] == {"broken": "RuntimeError('this builder is broken')"}
    assert (out["toy"], out["rocog"]) == ("toy_gestures", "rocog_v2")


def test_build_cli_refuses_a_broken_builder_it_is_asked_for(monkeypatch, caplog):
    monkeypatch.setattr(tfds_builders, "BUILDERS", ("no_such_builder", *tfds_builders.BUILDERS))
    with pytest.raises(app.UsageError, match="no_such_builder: ModuleNotFoundError"):
        build_cli.register_builders(["no_such_builder/x", "toy_gestures/real_small"])
    build_cli.register_builders(["toy_gestures/real_small"])  # another builder's failure: a warning
    assert "dataset builder no_such_builder could not be registered" in caplog.text
    with pytest.raises(app.UsageError, match="no dataset builder is registered for nope/x"):
        build_cli.builder_kwargs("nope/x", skip_bad_videos=False, frame_short_side=None)


@pytest.mark.parametrize("call", ["open_split", "build"])
def test_an_unregistered_dataset_is_a_clear_error(tmp_path, call):
    with pytest.raises(tfds.core.registered.DatasetNotFoundError) as info:
        if call == "open_split":
            datasets.open_split("no_such_builder/x:test", str(tmp_path), build_if_missing=True)
        else:
            datasets.build("no_such_builder/x", str(tmp_path))
    message = str(info.value)
    assert "'no_such_builder/x'" in message and "tfds_builders.register_all()" in message
    assert "Available datasets" not in message  # not TFDS's list of its whole catalogue


BUILD_AT_ONCE = r"""
import json, logging, os, sys, time
import tfds_builders
from gesture_jax.data import datasets

assert not tfds_builders.register_all()
data_dir, me, other = sys.argv[1:]
messages = []
handler = logging.Handler()
handler.emit = lambda record: messages.append(record.getMessage())
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(logging.INFO)
open(me, "w").close()  # start building when both processes are ready: a real race
while not os.path.exists(other):
    time.sleep(0.005)
datasets.build("toy_gestures/real_small", data_dir)
print(json.dumps([m for m in messages if "toy_gestures/real_small" in m]))
"""


@pytest.mark.slow
def test_two_processes_build_into_one_empty_data_dir_once(tmp_path):
    data_dir = tmp_path / "tfds"
    ready = [str(tmp_path / "ready0"), str(tmp_path / "ready1")]
    cmds = [[sys.executable, "-c", BUILD_AT_ONCE, str(data_dir), ready[i], ready[1 - i]] for i in (0, 1)]
    processes = [
        subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in cmds
    ]
    results = [p.communicate(timeout=180) for p in processes]
    for p, (_, err) in zip(processes, results):
        assert p.returncode == 0, err[-3000:]
    logs = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
    built = [any(m.startswith("building toy_gestures/real_small into") for m in log) for log in logs]
    assert sorted(built) == [False, True], logs
    other = logs[built.index(False)]
    assert any("by another process" in m or "is already built" in m for m in other), other
    # One build and its lock, nothing half-built left beside it; the data reads back.
    folder = data_dir / "toy_gestures"
    version = str(datasets.builder("toy_gestures/real_small", str(data_dir)).version)
    assert sorted(n for n in os.listdir(folder) if not n.startswith(".")) == ["real_small", "real_small.lock"]
    assert os.listdir(folder / "real_small") == [version]
    assert len(datasets.open_split("toy_gestures/real_small:test", str(data_dir))) == 21  # 3 × 7 classes
