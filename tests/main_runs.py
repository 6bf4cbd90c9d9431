"""`python -m gesture_jax.main ...` as a user runs it, in a subprocess on CPU with fake devices."""

import os
import subprocess
import sys

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
