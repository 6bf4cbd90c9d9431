"""Experiment files loaded as ``--config`` loads them."""

from __future__ import annotations

import difflib
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
    if replaced:
        raise FileNotFoundError(f"{reference}: that file is gone; the same experiment is {replaced}")
    folder = os.path.dirname(path) or "."
    there = sorted(f for f in os.listdir(folder) if f.endswith(".py")) if os.path.isdir(folder) else []
    close = difflib.get_close_matches(os.path.basename(path), there, n=1)
    hint = (
        f"did you mean {os.path.join(folder, close[0])}?"
        if close
        else f"experiments there: {', '.join(there)}"
    )
    raise FileNotFoundError(f"no experiment file {path} ({hint if there else 'no such folder'})")


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


def as_used(config: ml_collections.ConfigDict, workdir: str) -> ml_collections.ConfigDict:
    """The config as a run's config.json records it: the folders an empty field stands for spelled out
    (TFDS's default data directory, the workdir's feature cache), the rest as given."""
    from tensorflow_datasets.core import constants

    used = ml_collections.ConfigDict(config.to_dict())
    if "data" in used and not used.data.data_dir:
        used.data.data_dir = constants.DATA_DIR  # $TFDS_DATA_DIR, else ~/tensorflow_datasets
    if "extract" in used and not used.extract.cache_dir:
        used.extract.cache_dir = os.path.join(workdir, "features")  # as RunContext.cache_dir reads it
    return used
