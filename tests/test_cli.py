"""How the entry points end (gesture_jax.infra.cli): one line a person can act on with exit status 2, 130
for Ctrl-C, tracebacks in log.txt only, and a workdir whose status.json says how its run ended."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gesture_jax.infra import cli, storage

ROOT = Path(__file__).resolve().parents[1]


def _status(workdir) -> dict:
    return json.loads((Path(workdir) / cli.STATUS_FILE).read_text())


def _ending(body, workdir, capsys, argv=("prog", "--workdir", "w")):
    code = cli.run(body, argv=list(argv), workdir=str(workdir))
    return code, capsys.readouterr().err


def _raise(error):
    def body():
        raise error

    return body


def test_a_user_error_is_one_line_and_marks_the_workdir_failed(tmp_path, capsys):
    storage.setup_logging(str(tmp_path))
    try:
        code, err = _ending(_raise(ValueError("config.knn.k: expected an int")), tmp_path, capsys)
    finally:
        _drop_file_handlers()
    assert (code, err) == (2, "error: config.knn.k: expected an int\n")
    status = _status(tmp_path)
    assert (status["state"], status["error"]) == ("failed", "config.knn.k: expected an int")
    assert status["command"] == "prog --workdir w"
    log = (tmp_path / storage.LOG_FILE).read_text()
    assert "run failed: config.knn.k: expected an int" in log and "Traceback" in log


def test_verbose_shows_the_traceback_too(tmp_path, capsys):
    code, err = _ending(_raise(FileNotFoundError(2, "No such file", "/x.pth")), tmp_path, capsys,
                        argv=("prog", "--verbose"))  # fmt: skip
    assert code == 2 and "Traceback" in err and err.endswith("error: /x.pth: No such file\n")


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, capsys):
    code, err = _ending(_raise(KeyboardInterrupt()), tmp_path, capsys)
    assert (code, err) == (130, "interrupted; rerun the same command to go on\n")
    assert _status(tmp_path)["state"] == "interrupted"


def test_a_bug_shows_its_traceback_and_exit_1(tmp_path, capsys):
    code, err = _ending(_raise(TypeError("unsupported operand")), tmp_path, capsys)
    assert code == 1 and "Traceback" in err and "internal error (TypeError)" in err
    assert _status(tmp_path)["error"] == "internal error: unsupported operand"


def test_a_finished_run_says_so(tmp_path, capsys):
    code, err = _ending(lambda: None, tmp_path, capsys)
    assert (code, err, _status(tmp_path)["state"]) == (0, "", "finished")


def test_the_command_is_written_as_a_person_runs_it():
    assert cli.program("/src/gesture_jax/main.py") == "python -m gesture_jax.main"
    assert cli.program("/src/gesture_jax/data/build.py") == "python -m gesture_jax.data.build"
    assert cli.program("bench/knn.py") == "bench/knn.py"


def _drop_file_handlers():
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "baseFilename", None)]:
        root.removeHandler(handler)
        handler.close()


# --- the entry points, as a user runs them -------------------------------------------------------------


def _run(*args, timeout=120):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout)  # fmt: skip


@pytest.mark.parametrize("module", ["gesture_jax.main", "gesture_jax.convert", "gesture_jax.data.build"])
def test_every_help_exits_0_and_keeps_its_examples_apart(module):
    done = _run(module, "--help")
    assert done.returncode == 0 and done.stderr == ""
    assert "python -m " + module in done.stdout and "--[no]verbose" in done.stdout
    for line in done.stdout.splitlines():  # one example per line, not joined by a line continuation
        assert line.count("python -m ") <= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "configs/dem.py"], "no experiment file configs/dem.py (did you mean configs/demo.py?)"),
        (["--config=configs/demo.py:smok"], "configs/demo.py takes no argument or one of smoke, got 'smok'"),
        (["--config", "configs/demo.py", "--bogus"], "Unknown command line flag 'bogus'"),
    ],
)  # fmt: skip
def test_a_mistyped_command_is_one_line_and_its_workdir_is_marked(args, message, tmp_path):
    done = _run("gesture_jax.main", *args, "--workdir", str(tmp_path / "run"))
    assert (done.returncode, done.stderr, done.stdout) == (2, f"error: {message}\n", "")
    assert _status(tmp_path / "run")["state"] == "failed"
    assert "Traceback" in (tmp_path / "run" / storage.LOG_FILE).read_text()


def test_missing_flags_and_a_workdir_that_is_a_file(tmp_path):
    done = _run("gesture_jax.main", "--config", "configs/demo.py")
    assert done.returncode == 2 and done.stderr.startswith("error: --workdir is required")
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    done = _run("gesture_jax.main", "--config", "configs/demo.py:smoke", "--workdir", str(a_file))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip().splitlines()[-1]
        == f"error: --workdir {a_file} is a file; name a folder (it is made if missing)"
    )
    assert a_file.read_text() == "not a folder"


@pytest.mark.slow
def test_a_data_directory_that_cannot_be_written_is_one_line_and_marks_the_workdir(tmp_path):
    workdir = tmp_path / "run"
    done = _run("gesture_jax.main", "--config", "configs/demo.py:smoke", "--workdir", str(workdir),
                "--config.data.data_dir=/proc/no_such_folder")  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: cannot build toy_gestures/synthetic_small in /proc/no_such_folder (No such file or "
        "directory): name a writable data directory (--config.data.data_dir, or --data_dir)"
    )
    assert _status(workdir)["state"] == "failed" and "Traceback" in (workdir / storage.LOG_FILE).read_text()


@pytest.mark.slow
def test_convert_and_build_refuse_in_one_line(tmp_path):
    bad = tmp_path / "model.pth"
    bad.write_bytes(b"garbage\n")
    done = _run("gesture_jax.convert", "--family", "umt", "--variant", "umt-b16", "--src", str(bad),
                "--dst", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: {bad}: unrecognised content")
    done = _run("gesture_jax.data.build", "nope/x", "--data_dir", str(tmp_path / "data"))
    ours = "rocog_v2, toy_gestures, toy_motions"
    assert (done.returncode, done.stderr.strip().splitlines()[-1]) == (
        2, f"error: no dataset builder is registered for nope/x (our builders: {ours})"
    )  # fmt: skip


@pytest.mark.slow
def test_ctrl_c_during_a_build_is_one_line_and_exit_130(tmp_path):
    """The toy synthetic set (700 videos) interrupted while it generates: one line, status 130."""
    data = tmp_path / "data"
    # Ctrl-C as a terminal delivers it: pytest-xdist's workers ignore SIGINT and children inherit that, so
    # the child restores Python's own handler before it runs the entry point.
    start = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv = sys.argv[1:]; runpy.run_module('gesture_jax.data.build', run_name='__main__')"
    )
    cmd = [sys.executable, "-c", start, "build", "toy_gestures/synthetic", "--data_dir", str(data)]
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (data / "toy_gestures" / "synthetic.lock").exists():  # the build has begun
        assert process.poll() is None and time.monotonic() < deadline, "the build did not start"
        time.sleep(0.2)
    time.sleep(1)  # into the generation of 700 videos, which takes 5 to 15 s
    assert process.poll() is None, "the build ended before it was interrupted"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err and err.count("interrupted; rerun the same command to go on") == 1
