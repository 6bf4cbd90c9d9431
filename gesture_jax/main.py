"""The one entry point: parse flags, start processes, run the mode the config names.

    python -m gesture_jax.main --config configs/demo.py --workdir /tmp/demo [--config.knn.k=5]

``config.mode`` names a mode of ``gesture_jax.modes.MODES``; its module's ``run(config, workdir)``
does the work. How a run ends (exit status, one-line errors, ``status.json``): `gesture_jax.infra.cli`.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import sys

from absl import app, flags
from ml_collections import config_flags

from gesture_jax.infra import cli

_CONFIG = config_flags.DEFINE_config_file(
    "config",
    None,
    "Experiment file: configs/<name>.py[:arg]; override fields with --config.a.b=v.",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Where config.json, log.txt, status.json and the results go.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0, for multi-process runs without auto-detection."
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (multi-process runs).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (multi-process runs).")


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parsing, where every problem is one line naming it and its fix (exit status 2): a missing or
    misspelled experiment file or argument, a mistyped config field, a missing flag. The workdir, when one
    is named, is marked failed with the traceback in its log.txt. ``--help`` prints the flags (status 0)."""
    if cli.asks_for_help(argv):
        print(cli.usage(__doc__))
        sys.exit(0)
    try:
        if _config_reference(argv) is None:
            raise app.UsageError("--config is required: an experiment file, e.g. --config configs/demo.py")
        if cli.flag_value(argv, "workdir") is None:
            raise app.UsageError("--workdir is required: the folder for config.json, log.txt and results")
        config = _load_config_file(argv)  # the experiment's own errors first, in its own words
        try:
            return flags.FLAGS(argv)
        except (AttributeError, KeyError) as error:
            raise _explained(argv, config) or error
    except cli.USER_ERRORS as error:
        workdir = _usable(cli.flag_value(argv, "workdir"))
        sys.exit(cli.run(functools.partial(_raise, error), argv=argv, workdir=workdir))


def _raise(error: BaseException) -> None:
    raise error


def _config_reference(argv: list[str]) -> str | None:
    """The value of --config ("path/to/experiment.py[:arg]"), if given."""
    return cli.flag_value(argv, "config")


def _load_config_file(argv: list[str]):
    """The config that --config names, loaded directly: its own errors (a missing file, the experiment
    that replaced it, an argument it does not take) before absl's, and a failed override explained."""
    from gesture_jax import config_lib

    return config_lib.load_file(_config_reference(argv))


def _explained(argv: list[str], config) -> ValueError | None:
    """A mistyped ``--config.a.b=v`` named with the fields that exist in `config`."""
    for arg in argv[1:]:
        if arg.startswith("--config."):
            problem = _missing_field(config, arg[len("--config.") :].split("=", 1)[0])
            if problem:
                return ValueError(f"{arg.split('=', 1)[0]}: {problem}")
    return None


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


def _usable(workdir: str | None) -> str | None:
    """`workdir` with log.txt set up, when it is a local folder that `_check_workdir` accepts; else None
    (a run that could not start then reports on the terminal only)."""
    if not workdir or "://" in workdir:
        return None
    try:
        _check_workdir(workdir)
        from gesture_jax.infra import storage

        storage.setup_logging(workdir)
    except OSError:
        return None
    return workdir


def _check_workdir(workdir: str) -> None:
    """A local workdir is a folder this process can write (made if missing)."""
    if "://" in workdir:
        return
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise NotADirectoryError(f"--workdir {workdir} is a file; name a folder (it is made if missing)")
    try:
        os.makedirs(workdir, exist_ok=True)
    except OSError as error:
        raise OSError(f"--workdir {workdir} cannot be made: {error.strerror or error}") from None
    if not os.access(workdir, os.W_OK | os.X_OK):
        raise PermissionError(f"--workdir {workdir} is not writable by this user; name another folder")


def main(argv: list[str]) -> None:
    # Imported here so that --help and flag errors stay fast and JAX starts after flags are parsed.
    from gesture_jax import config_lib
    from gesture_jax.infra import parallel, storage

    # Libraries (JAX, Orbax, TFDS) log through absl at INFO in detail; keep their warnings, our own INFO.
    for name in ("absl", "jax"):
        logging.getLogger(name).setLevel(logging.WARNING)
    config, workdir = _CONFIG.value, storage.resolve(_WORKDIR.value)  # a local folder or a bucket (gs://...)
    started = []

    def body() -> None:
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        _check_workdir(workdir)
        if is_main() and "://" not in workdir:  # a bucket's log waits until the processes have joined
            storage.setup_logging(workdir)
        from gesture_jax import modes

        mode = modes.get(config.mode)  # an unknown mode fails here, before any work
        parallel.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
        started.append(True)
        if parallel.is_main_process():
            storage.setup_logging(workdir)
            storage.save_config(config_lib.as_used(config, workdir), workdir)
        logging.info("mode %s, workdir %s (the config: config.json)", config.mode, workdir)
        import tfds_builders

        # Registered here, once logging is set up: a broken builder is logged and costs only its own
        # datasets; the other builders and the modes keep working.
        for name, error in tfds_builders.register_all().items():
            logging.warning("dataset builder %s could not be registered: %r", name, error)
        mode.run(config, workdir)

    def is_main() -> bool:
        if started:
            return parallel.is_main_process()
        # Before the processes have joined: the one told it is process 0, or a process alone (one of a
        # detected cluster learns its index only by joining, so it marks nothing until then).
        told = _PROCESS_ID.value
        return told == 0 if told is not None else parallel.detected_cluster() is None

    code = cli.run(body, argv=sys.argv, workdir=None if os.path.isfile(workdir) else workdir, is_main=is_main)
    results = os.path.join(workdir, "results.md")
    if code == 0 and is_main() and storage.exists(results):
        print(f"results: {results}")
    sys.exit(code)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
