"""Devices, meshes and processes: everything that depends on how many of them there are.

Modes never branch on the number of devices or processes. They build a 1-D ``data`` mesh here, turn
per-process batches into global arrays here, and read replicated results back to the host here.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

DATA = "data"  # the one mesh axis: data parallelism over every device of every process


def initialize(
    coordinator_address: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> None:
    """Starts multi-process JAX when flags ask for it or a cluster launcher started several processes.

    Flags win; without them, the environments JAX knows how to read (Cloud TPU pods, SLURM's srun, Open
    MPI, Kubernetes) are detected here, so the same command runs unchanged on every worker.
    """
    if coordinator_address or (num_processes or 0) > 1:
        if not (coordinator_address and num_processes and process_id is not None):
            raise ValueError(
                "multi-process flags go together: --coordinator_address, --num_processes and --process_id "
                f"(got {coordinator_address!r}, {num_processes!r}, {process_id!r})"
            )
        if not 0 <= process_id < num_processes:
            raise ValueError(f"--process_id={process_id} is not in [0, --num_processes={num_processes})")
        jax.distributed.initialize(
            coordinator_address=coordinator_address, num_processes=num_processes, process_id=process_id
        )
    elif (cluster := detected_cluster()) is not None:
        logging.info("multi-process launch detected (%s): starting jax.distributed", cluster)
        jax.distributed.initialize()
    logging.info(
        "JAX process %d of %d, %d local / %d global devices (%s)",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
        jax.devices()[0].platform,
    )


def detected_cluster() -> str | None:
    """The cluster environment that launched this process as one of several, if any (by name).

    JAX's own detectors decide (so the coordinator, process count and id it derives agree with this
    answer). A one-task SLURM allocation runs as a single process: no coordinator needed.
    """
    try:
        from jax._src.clusters import ClusterEnv  # no public listing of the detectors
    except ImportError:  # pragma: no cover - a JAX that moved them; flags still work
        return None
    for env in ClusterEnv._cluster_types:
        if env.opt_in_only_method or not env.is_env_present():
            continue
        if env.__name__ == "SlurmCluster" and int(os.environ.get("SLURM_NTASKS", "1")) <= 1:
            return None
        return env.__name__
    return None


def make_mesh(devices: Sequence[jax.Device] | None = None) -> jax.sharding.Mesh:
    """A 1-D mesh named ``data`` over `devices` (default: every device of every process).

    Auto axes (classic GSPMD): the partitioner propagates shardings through model code, so encoders
    need no sharding annotations; the sharded KNN states its layout explicitly with shard_map.
    """
    devices = list(jax.devices() if devices is None else devices)
    return jax.sharding.Mesh(np.asarray(devices), (DATA,), axis_types=(AxisType.Auto,))


def batch_sharding(mesh: jax.sharding.Mesh) -> NamedSharding:
    """Leading axis split over the data axis."""
    return NamedSharding(mesh, P(DATA))


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def is_main_process() -> bool:
    """Only process 0 writes files; every process computes."""
    return jax.process_index() == 0


def process_batch_slice(global_batch: int, mesh: jax.sharding.Mesh) -> tuple[int, int]:
    """(start, size) of this process's rows within each global batch.

    The rows a process feeds are those its own devices hold, so a global batch assembled with
    `global_batch_from_local` is in the same order on any number of processes.
    """
    num_devices = mesh.devices.size
    if global_batch % num_devices:
        raise ValueError(
            f"global batch size {global_batch} must be a multiple of the {num_devices} devices of the mesh"
        )
    local = [i for i, d in enumerate(mesh.devices.flat) if d.process_index == jax.process_index()]
    per_device = global_batch // num_devices
    if local != list(range(local[0], local[0] + len(local))):
        raise ValueError("this process's devices are not contiguous in the mesh")
    return local[0] * per_device, len(local) * per_device


def global_batch_from_local(local: np.ndarray, mesh: jax.sharding.Mesh) -> jax.Array:
    """Assembles per-process rows (see `process_batch_slice`) into one array sharded over ``data``."""
    sharding = batch_sharding(mesh)
    global_shape = (local.shape[0] * mesh.devices.size // _local_device_count(mesh),) + local.shape[1:]
    return jax.make_array_from_process_local_data(sharding, local, global_shape)


def padded_size(n: int, minimum: int = 64) -> int:
    """A size to pad `n` rows to so that nearby sizes share one compiled program: a power of two from
    `minimum` up to 4096, then a multiple of 4096 (at most 4095 rows, or 2×, of padding)."""
    return max(minimum, 1 << (n - 1).bit_length()) if n <= 4096 else -(-n // 4096) * 4096


def shard_rows(
    x: np.ndarray, mesh: jax.sharding.Mesh, *, rows: int | None = None, fill: float = 0.0
) -> jax.Array:
    """A host array that every process holds in full → a global array with rows split over ``data``,
    padded to `rows` rows with `fill` (only a shard that runs past the end is copied to pad it)."""
    rows = len(x) if rows is None else rows

    def shard(index):
        part = x[index[0]]
        wanted = len(range(*index[0].indices(rows)))
        if len(part) == wanted:
            return part
        return np.concatenate([part, np.full((wanted - len(part), *x.shape[1:]), fill, x.dtype)])

    return jax.make_array_from_callback((rows, *x.shape[1:]), batch_sharding(mesh), shard)


def replicate(x: np.ndarray, mesh: jax.sharding.Mesh) -> jax.Array:
    """A host array that every process holds in full → a global array replicated on every device."""
    return jax.make_array_from_callback(x.shape, replicated(mesh), lambda idx: x[idx])


def to_host(x: jax.Array) -> np.ndarray:
    """Reads a replicated global array back to numpy on every process (no cross-host traffic)."""
    if not x.sharding.is_fully_replicated:
        raise ValueError(f"to_host expects a replicated array, got sharding {x.sharding}")
    return np.asarray(x.addressable_data(0))


def _local_device_count(mesh: jax.sharding.Mesh) -> int:
    return sum(d.process_index == jax.process_index() for d in mesh.devices.flat)


def any_process(flag: bool) -> bool:
    """True on every process if `flag` is true on any (decisions that hold barriers must agree)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils

    return bool(multihost_utils.process_allgather(np.array(flag)).any())


def barrier(name: str) -> None:
    """Waits until every process reaches the barrier of this name."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def broadcast_from_main(x: np.ndarray) -> np.ndarray:
    """Process 0's value of `x` on every process (decisions such as "which chunks are done" must agree)."""
    if jax.process_count() == 1:
        return x
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(x))
