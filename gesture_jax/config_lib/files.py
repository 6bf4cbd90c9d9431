"""Experiment files loaded as ``--config`` loads them."""

from __future__ import annotations

import importlib.util
import os

import ml_collections

from gesture_jax.config_lib import catalogue


def load_module(path: str):
    """The experiment file at `path` as a module (its helpers, such as a list of rows)."""
    if not os.path.exists(path):
        replaced = catalogue.moved(path)
        if replaced:
            raise FileNotFoundError(
                f"no experiment file {path}: it is now {replaced} (the :arg picks the encoder)"
            )
        raise FileNotFoundError(f"no experiment file {path}")
    spec = importlib.util.spec_from_file_location(f"_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_file(reference: str) -> ml_collections.ConfigDict:
    """The config of ``path/to/experiment.py[:arg]``, as ``--config`` would load it (locked)."""
    path, _, arg = reference.partition(":")
    replaced = catalogue.moved(reference)
    if replaced and not os.path.exists(path):
        raise FileNotFoundError(f"no experiment file {path}: {reference} is now {replaced}")
    module = load_module(path)
    config = module.get_config(arg) if arg else module.get_config()
    config.lock()
    return config
