"""Shared test set-up: 8 fake CPU devices, set before any JAX backend starts."""

import os

# Tests never touch the network or a GPU; the fake devices exercise every sharded code path.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", 8)
