"""Shared test set-up: 8 fake CPU devices, set before any JAX backend starts."""

import os

# Tests never touch the network or a GPU; the fake devices exercise every sharded code path.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", 8)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def toy_data_dir(tmp_path_factory) -> str:
    """The small toy gesture configs, built once per test session (about a second)."""
    from gesture_jax.data import datasets

    data_dir = str(tmp_path_factory.mktemp("tfds"))
    for name in ("toy_gestures/synthetic_small", "toy_gestures/real_small"):
        datasets.build(name, data_dir)
    return data_dir
