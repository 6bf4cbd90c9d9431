"""Two processes with four CPU devices each, started as a user would on two hosts: the same command per
process, here from a launcher's environment (SLURM's srun variables) that `parallel.initialize` detects,
each host building the missing toy sets on its own disk.

The mode kit (tests/test_mode_conformance.py) checks every mode on 2 × 4 devices against 1 × 8 with the
coordinator flags (the demo's from an empty shared data_dir that process 0 builds); its knn case's
reference run is the one here.
"""

import pytest
from main_runs import free_port, run_two
from mode_cases import CASES, outputs

pytestmark = [pytest.mark.slow, pytest.mark.uses_mode("knn")]
CONFIG = CASES["knn"].config


def test_two_processes_from_a_slurm_environment_each_build_their_toy_sets(mode_runs, tmp_path):
    """srun's variables start jax.distributed without flags; each host, with its own empty data_dir (as a
    TPU worker's disk), builds its own copy of the toy sets. The results are the one-process ones."""
    slurm = {
        "SLURM_JOB_ID": "4242",
        "SLURM_STEP_NODELIST": "localhost",
        "SLURM_NTASKS": "2",
        # JAX derives the port from the job id unless told; a free one keeps parallel test runs apart.
        "JAX_COORDINATOR_PORT": str(free_port()),
    }
    results = run_two(
        CONFIG,
        tmp_path / "workdir",
        flags_of=lambda i: (f"--config.data.data_dir={tmp_path / f'data{i}'}",),
        env_of=lambda i: {**slurm, "SLURM_PROCID": str(i), "SLURM_LOCALID": str(i)},
    )
    (_, err0), (_, err1) = results
    assert "multi-process launch detected (SlurmCluster)" in err0
    assert "JAX process 1 of 2, 4 local / 8 global devices" in err1
    assert "building toy_gestures/real_small into" in err0
    assert "building toy_gestures/real_small into this host's" in err1
    assert outputs(tmp_path / "workdir") == outputs(mode_runs.reference("knn").workdir)
