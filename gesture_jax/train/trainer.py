"""The jitted train step over the device mesh, on a classifier split into trainable and frozen parts.

Train state is a plain pytree, ``{"step", "params", "opt_state", "rng"}`` with ``params`` the trainable
parameters by name ("encoder/blocks/11/mlp/fc2/kernel", ...), so it checkpoints as is. Randomness (drop
path) is ``fold_in(rng, step)``: a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from gesture_jax.data import pipeline
from gesture_jax.data.spec import VideoSpec
from gesture_jax.infra import parallel


def _name(path: tuple) -> str:
    return "/".join(map(str, path))


class Trainer:
    def __init__(
        self,
        model: nnx.Module,
        *,
        is_trainable: Callable[[tuple], bool],
        make_tx: Callable[[dict[str, Any]], optax.GradientTransformation],
        lr_schedule: optax.Schedule,
        spec: VideoSpec,
        mesh: jax.sharding.Mesh,
        num_classes: int,
        label_smoothing: float = 0.0,
        accum_steps: int = 1,
    ):
        self.mesh = mesh
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        self._graphdef, self._rest = graphdef, jax.device_put(rest, parallel.replicated(mesh))
        self._templates = {_name(p): (p, v) for p, v in nnx.to_flat_state(params)}
        values = {n: v.get_value() for n, (_, v) in self._templates.items()}
        self.trainable_names = sorted(n for n, (p, _) in self._templates.items() if is_trainable(p))
        if not self.trainable_names:
            raise ValueError("nothing to train: every parameter is frozen")
        frozen = {n: v for n, v in values.items() if n not in self.trainable_names}
        self._frozen = jax.device_put(frozen, parallel.replicated(mesh))
        self._initial = {n: values[n] for n in self.trainable_names}
        self.tx = tx = make_tx(self._initial)  # built for exactly the trainable parameters

        def merge(params, frozen, rest):
            flat = [
                (p, v.replace(params[n] if n in params else frozen[n]))
                for n, (p, v) in self._templates.items()
            ]
            return nnx.merge(self._graphdef, nnx.from_flat_state(flat), rest)

        self._merge = merge

        num_groups = mesh.devices.size  # one group of rows per device
        ordered_sum = _ordered_sum_fn(mesh)

        def group_loss(params, frozen, rest, video, label, key):
            """Summed loss and correct count over one device's rows of the global batch."""
            model = merge(params, frozen, rest)
            logits = model(pipeline.normalize_on_device(video, spec), drop_path_key=key)
            targets = optax.smooth_labels(jax.nn.one_hot(label, num_classes), label_smoothing)
            return optax.softmax_cross_entropy(logits, targets).sum(), (logits.argmax(-1) == label).sum()

        def train_step(state, frozen, rest, batch):
            key = jax.random.fold_in(state["rng"], state["step"])
            video, label = batch["video"], batch["label"]
            size = label.shape[0]

            def grouped(x):
                return x.reshape(num_groups, size // num_groups, *x.shape[1:])

            # Per-device sums, then one sum over devices in a fixed order: GSPMD's all-reduce adds in
            # another order across processes than within one, which would change the weights' last bits.
            per_group = jax.value_and_grad(group_loss, has_aux=True)
            (loss_sums, correct), grads = jax.vmap(per_group, in_axes=(None, None, None, 0, 0, 0))(
                state["params"],
                frozen,
                rest,
                grouped(video),
                grouped(label),
                jax.random.split(key, num_groups),
            )
            grads = _unstack_sum(ordered_sum, grads, size)
            updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
            metrics = {
                "loss": ordered_sum(loss_sums) / size,
                "accuracy": ordered_sum(correct.astype(jnp.float32)) / size,
                "grad_norm": optax.global_norm(grads),
                "learning_rate": lr_schedule(state["step"] // accum_steps),
            }
            new_state = {
                "step": state["step"] + 1,
                "params": optax.apply_updates(state["params"], updates),
                "opt_state": opt_state,
                "rng": state["rng"],
            }
            return new_state, metrics

        replicated = parallel.replicated(mesh)
        self._train_step = jax.jit(train_step, donate_argnums=(0,), out_shardings=(replicated, replicated))

    def init_state(self, seed: int) -> dict[str, Any]:
        params = jax.device_put(self._initial, parallel.replicated(self.mesh))
        state = {
            "step": jnp.zeros((), jnp.int32),
            "params": params,
            "opt_state": self.tx.init(params),
            "rng": jax.random.PRNGKey(seed),  # raw uint32 key: checkpoints as a plain array
        }
        return jax.device_put(state, parallel.replicated(self.mesh))

    def step(self, state: dict[str, Any], local_batch: dict[str, np.ndarray]) -> tuple[dict, dict]:
        batch = {k: parallel.global_batch_from_local(v, self.mesh) for k, v in local_batch.items()}
        return self._train_step(state, self._frozen, self._rest, batch)

    def model(self, state: dict[str, Any]) -> nnx.Module:
        """The classifier with the state's trainable parameters (for evaluation and feature extraction)."""
        return self._merge(state["params"], self._frozen, self._rest)


def _ordered_sum_fn(mesh: jax.sharding.Mesh) -> Callable[[jax.Array], jax.Array]:
    """x [devices, ...] with row i on device i → the sum over rows, replicated, added in one fixed order
    whatever the process layout: each device receives every row's slice of its chunk (all-to-all, exact),
    sums them locally, and the chunks are gathered back (exact)."""
    n = mesh.devices.size

    def local(x):  # [1, m]: this device's row
        received = jax.lax.all_to_all(x.reshape(n, -1), parallel.DATA, 0, 0, tiled=True)  # [n, m / n]
        return jax.lax.all_gather(received.sum(axis=0), parallel.DATA, tiled=True)

    # all_gather leaves every device the same value; the static replication check cannot see that.
    reduce = jax.shard_map(local, mesh=mesh, in_specs=P(parallel.DATA, None), out_specs=P(), check_vma=False)

    def ordered_sum(x: jax.Array) -> jax.Array:
        flat = x.reshape(n, -1)
        size = flat.shape[1]
        flat = jnp.pad(flat, ((0, 0), (0, -size % n)))
        flat = jax.lax.with_sharding_constraint(flat, NamedSharding(mesh, P(parallel.DATA, None)))
        return reduce(flat)[:size].reshape(x.shape[1:])

    return ordered_sum


def _unstack_sum(ordered_sum, grads: dict[str, jax.Array], size: int) -> dict[str, jax.Array]:
    """{name: [devices, ...]} → {name: sum over devices / size}, in one collective for every parameter."""
    names = sorted(grads)
    if len({grads[k].dtype for k in names}) > 1:  # mixed precisions: one collective per parameter
        return {k: ordered_sum(g) / size for k, g in grads.items()}
    n = grads[names[0]].shape[0]
    flat = jnp.concatenate([grads[k].reshape(n, -1) for k in names], axis=1)
    total = ordered_sum(flat) / size
    out, start = {}, 0
    for k in names:
        shape = grads[k].shape[1:]
        count = int(np.prod(shape))
        out[k] = total[start : start + count].reshape(shape)
        start += count
    return out


def checksum(params: dict[str, Any]) -> str:
    """sha256 over every parameter's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(params):
        value = np.asarray(jax.device_get(params[name]))
        digest.update(f"{name}:{value.dtype}:{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()
