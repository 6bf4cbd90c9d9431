"""Every Orbax call of the project: parameter trees of converted encoders (and, later, training state).

Trees are nested dicts with string keys (block indices as "0", "1", ...), as Orbax stores them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from etils import epath
from orbax.checkpoint import v1 as ocp

from gesture_jax.infra import storage


def save_params(path: str, flat: dict[str, np.ndarray]) -> None:
    """Writes {dotted.path: array} as an Orbax pytree checkpoint at `path` (which must not exist)."""
    ocp.save_pytree(storage.resolve(path), nest(flat))


def load_params(path: str) -> dict[str, np.ndarray]:
    """{dotted.path: numpy array} from `save_params`."""
    if not epath.Path(path).is_dir():
        raise FileNotFoundError(f"no parameter checkpoint at {path}")
    return flatten(ocp.load_pytree(storage.resolve(path)))


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        node = tree
        *parents, leaf = path.split(".")
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return tree


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for name, value in tree.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = np.asarray(value)
    return flat


class TrainCheckpoints:
    """Training checkpoints in ``<workdir>/checkpoints``: train state and data-iterator state together,
    written asynchronously; the latest `keep` and the best by a validation metric are kept."""

    def __init__(self, directory: str, *, keep: int, best_metric: str | None = None):
        policies = ocp.training.preservation_policies
        keep_policy = [policies.LatestN(keep)]
        if best_metric:
            keep_policy.append(policies.BestN(get_metric_fn=lambda m: m[best_metric], n=1))
        self._checkpointer = ocp.training.Checkpointer(
            storage.resolve(directory),
            preservation_policy=policies.AnyPreservationPolicy(keep_policy),
            save_decision_policy=ocp.training.save_decision_policies.FixedIntervalPolicy(1),
            cleanup_tmp_directories=True,  # a write cut short by a kill leaves a temporary folder
        )
        self._pending = None

    @property
    def steps(self) -> list[int]:
        return sorted(c.step for c in self._checkpointer.checkpoints)

    def latest_step(self) -> int | None:
        latest = self._checkpointer.latest
        return None if latest is None else latest.step

    def save(self, step: int, state: Any, iterator: Any, metrics: dict[str, float] | None = None) -> None:
        """Starts writing; the previous write is finished first, so at most one is in flight."""
        self.wait()
        self._pending = self._checkpointer.save_checkpointables_async(
            step, {"state": state, "dataset": iterator}, metrics=metrics or {}
        )

    def restore(self, step: int, abstract_state: Any, iterator: Any) -> Any:
        """The train state saved at `step`; `iterator` is set to where it was."""
        restored = self._checkpointer.load_checkpointables(
            step, {"state": abstract_state, "dataset": iterator}
        )
        return restored["state"]

    def wait(self) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def close(self) -> None:
        self.wait()
        self._checkpointer.close()
