"""Shared test set-up: 8 fake CPU devices, set before any JAX backend starts, and every TFDS builder
of tfds_builders registered."""

import atexit
import collections
import os
import shutil
import tempfile

# Tests never touch the network or a GPU; the fake devices exercise every sharded code path.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One XLA compilation cache for the session (a fresh folder, inherited by every subprocess the tests
# start): the suite runs the same small programs in many processes (the demos end to end), and compiling
# them took most of those runs' time. Cached executables compute exactly what fresh ones do.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="gesture_jax_tests_xla_cache_")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")

import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", 8)

import pytest  # noqa: E402

import tfds_builders  # noqa: E402

# Tests are an entry point: they register every builder themselves (gesture_jax imports none), and
# need them all, so a builder that cannot be registered stops the run here.
_failures = tfds_builders.register_all()
if _failures:
    raise RuntimeError(
        "dataset builders could not be registered: " + "; ".join(f"{n}: {e!r}" for n, e in _failures.items())
    ) from next(iter(_failures.values()))


@pytest.fixture(scope="session")
def toy_data_dir(tmp_path_factory) -> str:
    """The small toy gesture configs, built once per test session (about a second)."""
    from gesture_jax.data import datasets

    data_dir = str(tmp_path_factory.mktemp("tfds"))
    for name in ("toy_gestures/synthetic_small", "toy_gestures/real_small"):
        datasets.build(name, data_dir)
    return data_dir


@pytest.fixture(scope="session")
def toy_motions_data_dir(toy_data_dir) -> str:
    """`toy_data_dir` with the small pre-training corpus (toy_motions/neutral_small) built into it too."""
    from gesture_jax.data import datasets

    datasets.build("toy_motions/neutral_small", toy_data_dir)
    return toy_data_dir


@pytest.fixture(scope="session")
def mode_runs(toy_data_dir, tmp_path_factory):
    """Every mode's shrunk demo, run once per session on first use (tests/mode_cases.py)."""
    from mode_cases import ModeRuns

    return ModeRuns(toy_data_dir, tmp_path_factory)


def _worker_group(item) -> str | None:
    """The tests of one mode's shared runs (`mode_runs`) share a worker: the kit's, by its `name`
    parameter, and others marked `uses_mode(<mode>)`; so do a module's tests when they use a
    module-scoped fixture, or a session-scoped one of its own (made once). Any other test goes alone to
    whichever worker is free (None)."""
    if "mode_runs" not in item.fixturenames:
        defs = [d for ds in item._fixtureinfo.name2fixturedefs.values() for d in ds]
        shared = any(
            d.scope == "module" or (d.scope == "session" and d.func.__module__ == item.module.__name__)
            for d in defs
        )
        return item.module.__name__ if shared else None
    marker = item.get_closest_marker("uses_mode")
    callspec = getattr(item, "callspec", None)
    if marker is None and (callspec is None or "name" not in callspec.params):
        raise pytest.UsageError(f"{item.nodeid} uses mode_runs: mark it @pytest.mark.uses_mode(<mode>)")
    # No brackets in a group's name: xdist reads the group after the last "@" only when no "]" follows it
    # (a parameter id's), so "mode_runs[knn]" would silently make every test a group of its own.
    return f"mode_runs.{marker.args[0] if marker else callspec.params['name']}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Tiers and workers.

    A test marked `slow_variants` runs its first parameter set in the fast tier and the others in the
    full suite only (marked `slow`): the fast tier touches the behaviour once, `make test` covers every case.

    With two workers (`make test`: pytest-xdist, --dist loadgroup) each group of `_worker_group` runs on
    one worker, and the other tests one by one wherever a worker is free. The mode runs' groups go first
    (each runs the entry point in several processes), then the groups with the most slow cases, so the
    long ones start at once and the short ones fill in at the end instead of one worker finishing long
    after the other.
    """
    seen = set()
    for item in items:
        if item.get_closest_marker("slow_variants") is not None:
            function = (item.module.__name__, item.originalname)
            if function in seen:
                item.add_marker(pytest.mark.slow)
            seen.add(function)
    # A test without a group gets one of its own, so that every id carries a group (checked below).
    groups = {id(item): _worker_group(item) or f"alone.{i}" for i, item in enumerate(items)}
    slow = collections.Counter(groups[id(i)] for i in items if i.get_closest_marker("slow") is not None)
    if config.pluginmanager.hasplugin("xdist"):  # its mark; a run without it (-p no:xdist) has no workers
        for item in items:
            item.add_marker(pytest.mark.xdist_group(groups[id(item)]))
    # Stable: each group keeps its order.
    items.sort(key=lambda item: (not groups[id(item)].startswith("mode_runs."), -slow[groups[id(item)]]))


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: a run without xdist (-p no:xdist) skips it
def pytest_xdist_node_collection_finished(node, ids):
    """With `--dist loadgroup`, a worker's test ids must carry their groups (`<id>@<group>`, as
    pytest-xdist passes them to its scheduler), or the groups would be ignored without a word."""
    if node.config.getoption("dist") == "loadgroup" and not all("@" in i for i in ids):
        raise pytest.UsageError(
            "pytest-xdist did not tag the tests with their groups: this pytest and pytest-xdist do not "
            "group tests (install the versions of requirements-dev.txt)"
        )
