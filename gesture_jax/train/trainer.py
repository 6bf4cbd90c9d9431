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

from gesture_jax import parallel
from gesture_jax.data import pipeline
from gesture_jax.data.spec import VideoSpec


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

        def train_step(state, frozen, rest, batch):
            key = jax.random.fold_in(state["rng"], state["step"])

            def loss_fn(params):
                model = merge(params, frozen, rest)
                logits = model(pipeline.normalize_on_device(batch["video"], spec), drop_path_key=key)
                targets = optax.smooth_labels(jax.nn.one_hot(batch["label"], num_classes), label_smoothing)
                loss = optax.softmax_cross_entropy(logits, targets).mean()
                return loss, (logits.argmax(-1) == batch["label"]).mean()

            (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
            updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
            metrics = {
                "loss": loss,
                "accuracy": accuracy,
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


def checksum(params: dict[str, Any]) -> str:
    """sha256 over every parameter's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(params):
        value = np.asarray(jax.device_get(params[name]))
        digest.update(f"{name}:{value.dtype}:{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()
