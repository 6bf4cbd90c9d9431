"""Weight-space interpolation between an encoder's original and fine-tuned weights (WiSE-FT).

θ(α) = (1 − α)·θ_frozen + α·θ_fine-tuned for every parameter; everything that is not a parameter (fixed
position tables, buffers) must be the same in both and is taken from the frozen encoder. α = 0 and α = 1
give back exactly the two encoders. The result is a new module in memory: nothing is written, so a
fine-tuned checkpoint is never replaced by an interpolated one.

Wortsman et al., "Robust fine-tuning of zero-shot models" (CVPR 2022): interpolating recovers much of the
generalisation to new distributions and classes that fine-tuning loses, at little cost on what it gained.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def check_alphas(alphas) -> tuple[float, ...]:
    """The configured interpolation weights as floats in [0, 1] (an error naming a bad one)."""
    out = []
    for a in alphas:
        a = float(a)
        if not 0.0 <= a <= 1.0:
            raise ValueError(
                f"finetune.alphas: every α must lie in [0, 1] (0 = frozen, 1 = fine-tuned), got {a}"
            )
        out.append(a)
    return tuple(dict.fromkeys(out))


def snapshot(module: nnx.Module) -> nnx.Module:
    """A copy of `module` whose arrays live on the host: training donates the device buffers of the
    encoder it starts from, and the frozen side of the interpolation must outlive that."""
    graph, state = nnx.split(module)
    return nnx.merge(graph, jax.tree.map(lambda x: np.array(jax.device_get(x)), state))


def interpolate(frozen: nnx.Module, tuned: nnx.Module, alpha: float) -> nnx.Module:
    """A new encoder with parameters (1 − α)·frozen + α·tuned; the two must share their structure."""
    graph_a, params_a, rest_a = nnx.split(frozen, nnx.Param, ...)
    graph_b, params_b, rest_b = nnx.split(tuned, nnx.Param, ...)
    if graph_a != graph_b:
        raise ValueError("cannot interpolate encoders of different structure (another family or config?)")
    flat_a, flat_b = dict(nnx.to_flat_state(params_a)), dict(nnx.to_flat_state(params_b))
    for path, va in flat_a.items():
        vb = flat_b[path]
        if va.get_value().shape != vb.get_value().shape:
            raise ValueError(f"parameter {'.'.join(map(str, path))}: shapes {va.get_value().shape} and "
                             f"{vb.get_value().shape} differ")  # fmt: skip
    alpha = float(alpha)

    def mix(a, b):
        a, b = jax.device_get(a), jax.device_get(b)
        if not jnp.issubdtype(a.dtype, jnp.floating):
            return a
        out = (1.0 - alpha) * np.asarray(a, np.float64) + alpha * np.asarray(b, np.float64)
        return jnp.asarray(out.astype(a.dtype))  # α = 0 or 1 gives exactly one side's values

    mixed = jax.tree.map(mix, params_a, params_b)
    return nnx.merge(graph_a, mixed, rest_a)
