"""Experiment files loaded as ``--config`` loads them."""

from __future__ import annotations

import importlib.util
import os

import ml_collections

from gesture_jax.config_lib import catalogue


def _must_exist(reference: str) -> None:
    """A FileNotFoundError for an experiment file that is not there, naming the experiment that replaced
    it where one did (`catalogue.moved`)."""
    path = reference.partition(":")[0]
    if os.path.exists(path):
        return
    replaced = catalogue.moved(reference)
    raise FileNotFoundError(
        f"no experiment file {path}" + (f": {reference} is now {replaced}" if replaced else "")
    )


def load_module(path: str):
    """The experiment file at `path` as a module (its helpers, such as a list of rows)."""
    _must_exist(path)
    spec = importlib.util.spec_from_file_location(f"_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_file(reference: str) -> ml_collections.ConfigDict:
    """The config of ``path/to/experiment.py[:arg]``, as ``--config`` would load it (locked)."""
    _must_exist(reference)  # before load_module: the replacement named with this reference's argument
    path, _, arg = reference.partition(":")
    module = load_module(path)
    config = module.get_config(arg) if arg else module.get_config()
    config.lock()
    return config
