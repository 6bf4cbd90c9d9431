"""The one entry point: parse flags, start processes, run the mode the config names.

    python -m gesture_jax.main --config configs/demo.py --workdir /tmp/demo [--config.knn.k=5]

``config.mode`` names a mode of ``gesture_jax.modes.MODES``; its module's ``run(config, workdir)``
does the work.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys

from absl import app, flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config",
    None,
    "Experiment file: configs/<name>.py[:arg]; override fields with --config.a.b=v.",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Where config.json, log.txt and the results go.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0, for multi-process runs without auto-detection."
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (multi-process runs).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (multi-process runs).")
flags.mark_flags_as_required(["config", "workdir"])


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parsing, with a one-line error naming a mistyped config field instead of a traceback, and
    the experiment that replaced a per-encoder config file of earlier versions."""
    reference = _config_reference(argv)
    if reference and not os.path.exists(reference.partition(":")[0]):
        from gesture_jax.config_lib import catalogue

        replaced = catalogue.moved(reference)
        if replaced:
            sys.exit(
                f"error: --config {reference}: that file is gone; the same experiment is --config {replaced}"
            )
    try:
        return flags.FLAGS(argv)
    except (AttributeError, KeyError):
        config = _load_config_file(argv)
        for arg in argv[1:]:
            if arg.startswith("--config."):
                problem = config and _missing_field(config, arg[len("--config.") :].split("=", 1)[0])
                if problem:
                    sys.exit(f"error: {arg.split('=', 1)[0]}: {problem}")
        raise


def _config_reference(argv: list[str]) -> str | None:
    """The value of --config ("path/to/experiment.py[:arg]"), if given."""
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def _load_config_file(argv: list[str]):
    """The config that --config names, loaded directly (used only to explain a failed override)."""
    reference = _config_reference(argv)
    if reference is None:
        return None
    from gesture_jax import config_lib

    return config_lib.load_file(reference)


def _missing_field(config, path: str) -> str | None:
    node, walked = config, []
    for name in path.split("."):
        keys = list(node.keys()) if hasattr(node, "keys") else []
        if name not in keys:
            where = f"under '{'.'.join(walked)}'" if walked else "at the top level"
            close = difflib.get_close_matches(name, keys, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            return f"the config has no field '{name}' {where} ({hint}fields: {', '.join(keys)})"
        node, walked = node[name], walked + [name]
    return None


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # Imported here so that --help and flag errors stay fast and JAX starts after flags are parsed.
    from gesture_jax.infra import parallel, storage

    # Libraries (Orbax, TFDS) log through absl at INFO in detail; keep their warnings, and our own INFO.
    logging.getLogger("absl").setLevel(logging.WARNING)
    parallel.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
    config = _CONFIG.value
    out_dir = storage.resolve(_WORKDIR.value)  # a local folder or a bucket (gs://...)
    if parallel.is_main_process():
        storage.setup_logging(out_dir)
        storage.save_config(config, out_dir)
    logging.info("mode %s, workdir %s\n%s", config.mode, out_dir, config)
    import tfds_builders

    # Registered here, once logging is set up: a broken builder is logged and costs only its own
    # datasets; the other builders and the modes keep working.
    for name, error in tfds_builders.register_all().items():
        logging.warning("dataset builder %s could not be registered: %r", name, error)
    from gesture_jax import modes

    try:
        mode = modes.get(config.mode)
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    mode.run(config, out_dir)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
