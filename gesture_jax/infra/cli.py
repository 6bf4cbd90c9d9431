"""How the command-line entry points end: a person gets one line to act on, log.txt keeps the traceback, and
a workdir says whether its run finished (``status.json``).

Exit status: 0 finished; 2 a user error, whose message names the config field, file, checkpoint, dataset
or vocabulary and what was expected; 130 interrupted (Ctrl-C: rerun the same command to go on, the
extraction cache and training checkpoints resume); 1 an internal error (a bug: its traceback is printed).

User errors are the exceptions a person's input causes and this code raises with a message that names
it: `ValueError` (the project's own checks, a refused checkpoint, an unknown dataset), `OSError` (a
missing file, a workdir that is a file, a directory that cannot be written) and absl's usage and flag
errors. ``--verbose`` prints their traceback too.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from absl import app, flags

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_INTERNAL_ERROR = 1
INTERRUPTED = "interrupted; rerun the same command to go on"
STATUS_FILE = "status.json"
USER_ERRORS = (ValueError, OSError, app.UsageError, flags.Error)

RUNNING, FINISHED, FAILED, STOPPED = "running", "finished", "failed", "interrupted"

flags.DEFINE_bool("verbose", False, "Print the traceback of an error too (a run's log.txt always has it).")


def asks_for_help(argv: Sequence[str]) -> bool:
    return any(a in ("--help", "-h", "--helpfull", "--helpshort", "-?") for a in argv[1:])


def usage(doc: str) -> str:
    """An entry point's help: its docstring as written (examples line by line), then its flags."""
    modules = [sys.argv[0], __name__]
    text = "\n".join(flags.FLAGS.module_help(m) for m in modules if flags.FLAGS.get_flags_for_module(m))
    return f"{doc.strip()}\n\nflags:\n{text}"


def parse_flags(argv: list[str], *, doc: str) -> list[str]:
    """absl's flag parsing for an entry point: ``--help`` prints `usage` (status 0), a flag problem is one
    line (status 2)."""
    if asks_for_help(argv):
        print(usage(doc))
        sys.exit(0)
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


def entry_point(main: Callable[[list[str]], int | None], doc: str) -> None:
    """Runs a command-line `main(argv)` (its return value the exit status) under absl, ended by `run`."""

    def guarded(argv: list[str]) -> None:
        status = []
        code = run(lambda: status.append(main(argv)), argv=sys.argv)
        sys.exit(code or (status[0] if status and status[0] else 0))

    app.run(guarded, flags_parser=functools.partial(parse_flags, doc=doc))


def verbose(argv: Sequence[str]) -> bool:
    """Whether the command line asks for tracebacks (read before the flags are parsed, which may fail)."""
    return any(a in ("--verbose", "--verbose=true", "--verbose=1") for a in argv)


def flag_value(argv: Sequence[str], name: str) -> str | None:
    """The value of ``--name=v`` or ``--name v`` on a command line, before (or without) parsing it."""
    for i, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
        if arg == f"--{name}" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def message(error: BaseException) -> str:
    """The one or two lines a person reads: the error's own message (an OSError's with its path)."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    text = str(error).strip() or type(error).__name__
    if isinstance(error, KeyError) and len(error.args) == 1:
        text = str(error.args[0])
    return text


def write_status(workdir: str | None, state: str, **info) -> None:
    """``<workdir>/status.json``: the run's state (running, finished, failed, interrupted), when, the
    command, and the error's message. Written atomically; never raises (a workdir that cannot be written
    is the error being reported)."""
    if not workdir or "://" in workdir:
        return
    body = {"state": state, "time": datetime.datetime.now().isoformat(timespec="seconds"), **info}
    path = os.path.join(workdir, STATUS_FILE)
    try:
        os.makedirs(workdir, exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(body, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except OSError:
        pass


def run(
    body: Callable[[], None],
    *,
    argv: Sequence[str],
    workdir: str | None = None,
    is_main: Callable[[], bool] = lambda: True,
) -> int:
    """`body()`, ended as the module docstring says: the exit status, with the workdir's status.json and
    log.txt (when logging goes there) recording how it ended. Only the main process marks the workdir
    (`is_main` is asked at each mark: a run learns which process it is once it has started)."""
    command = " ".join([program(argv[0]), *argv[1:]]) if argv else ""

    def mark(state: str, **info) -> None:
        write_status(workdir if is_main() else None, state, command=command, **info)

    mark(RUNNING)
    try:
        body()
    except KeyboardInterrupt:
        to_log("interrupted (Ctrl-C)")
        mark(STOPPED)
        print(INTERRUPTED, file=sys.stderr)
        return EXIT_INTERRUPTED
    except USER_ERRORS as error:
        to_log(f"run failed: {message(error)}", error)
        mark(FAILED, error=message(error))
        if verbose(argv):
            traceback.print_exception(error, file=sys.stderr)
        print(f"error: {message(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as error:  # a bug: the traceback is for whoever fixes it
        to_log(f"run failed: {message(error)}", error)
        mark(FAILED, error=f"internal error: {message(error)}")
        traceback.print_exception(error, file=sys.stderr)
        print(
            f"internal error ({type(error).__name__}): please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR
    mark(FINISHED)
    return 0


def program(path: str) -> str:
    """How a person runs the entry point at `path` (``python -m gesture_jax.main`` for its main.py)."""
    parts = os.path.normpath(path).split(os.sep)
    if path.endswith(".py") and "gesture_jax" in parts:
        module = parts[parts.index("gesture_jax") :]
        return "python -m " + ".".join(module)[: -len(".py")]
    return path


def to_log(text: str, error: BaseException | None = None) -> None:
    """A record (with `error`'s traceback) into the log files only (log.txt), never onto the terminal."""
    record = logging.LogRecord(__name__, logging.ERROR, __file__, 0, "%s", (text,), None)
    if error is not None:
        record.exc_text = "".join(traceback.format_exception(error)).rstrip()
    for handler in logging.getLogger().handlers:
        if getattr(handler, "baseFilename", None):
            handler.handle(record)
