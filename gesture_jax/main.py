"""The one entry point: parse flags, start processes, run the mode the config names.

    python -m gesture_jax.main --config configs/demo.py --workdir /tmp/demo [--config.knn.k=5]

``config.mode`` names a module of ``gesture_jax.modes``; its ``run(config, workdir)`` does the work.
"""

from __future__ import annotations

import importlib
import logging
import os

from absl import app, flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment file: configs/<name>.py[:arg]; override fields with --config.a.b=v.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Where config.json, log.txt and the results go.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None,
                                   "host:port of process 0, for multi-process runs without auto-detection.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (multi-process runs).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (multi-process runs).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  # Imported here so that --help and flag errors stay fast and JAX starts after flags are parsed.
  from gesture_jax import parallel, workdir

  parallel.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  config = _CONFIG.value
  out_dir = os.path.abspath(os.path.expanduser(_WORKDIR.value))
  if parallel.is_main_process():
    workdir.setup_logging(out_dir)
    workdir.save_config(config, out_dir)
  logging.info("mode %s, workdir %s\n%s", config.mode, out_dir, config)
  try:
    mode = importlib.import_module(f"gesture_jax.modes.{config.mode}")
  except ModuleNotFoundError as e:
    if e.name != f"gesture_jax.modes.{config.mode}":
      raise
    raise app.UsageError(f"unknown mode {config.mode!r}: no module gesture_jax/modes/{config.mode}.py")
  mode.run(config, out_dir)


if __name__ == "__main__":
  app.run(main)
