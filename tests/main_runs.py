"""`python -m gesture_jax.main ...` as a user runs it, in a subprocess on CPU with fake devices."""

import os
import socket
import subprocess
import sys
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_main(
    config: str, workdir, *flags: str, devices: int = 8, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """The main entry point started in the background (stdout and stderr captured); `env` adds variables."""
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        **(env or {}),
    }
    cmd = [sys.executable, "-m", "gesture_jax.main", "--config", config, "--workdir", str(workdir), *flags]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_main(
    config: str, workdir, *flags: str, devices: int = 8, timeout: int = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """The main entry point run to the end: returncode, stdout and stderr."""
    process = start_main(config, workdir, *flags, devices=devices, env=env)
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def coordinator_flags(i: int, address: str) -> tuple[str, ...]:
    return (f"--coordinator_address={address}", "--num_processes=2", f"--process_id={i}")


def slurm_env() -> Callable[[int], dict[str, str]]:
    """env_of for `run_two`: the variables srun gives each task of a two-task step on this host."""
    common = {
        "SLURM_JOB_ID": "4242",
        "SLURM_STEP_NODELIST": "localhost",
        "SLURM_NTASKS": "2",
        # JAX derives the port from the job id unless told; a free one keeps parallel test runs apart.
        "JAX_COORDINATOR_PORT": str(free_port()),
    }
    return lambda i: {**common, "SLURM_PROCID": str(i), "SLURM_LOCALID": str(i)}


def run_two(config, workdir, flags_of, env_of=lambda i: {}) -> list[tuple[str, str]]:
    """`config` as processes 0 and 1 with 4 devices each, `flags_of(i)` / `env_of(i)` per process; both
    must succeed. Returns each process's (stdout, stderr)."""
    processes = [start_main(config, workdir, *flags_of(i), devices=4, env=env_of(i)) for i in range(2)]
    results = [p.communicate(timeout=600) for p in processes]
    for p, (_, err) in zip(processes, results):
        assert p.returncode == 0, err[-3000:]
    return results
