"""Video encoders in Flax NNX, built by registered name.

model, spec = models.create("toy-vit", seed=0)
features = model.features(video)  # video: float32 [B, T, H, W, 3], preprocessed per `spec`
"""

from __future__ import annotations

import importlib
from typing import Any

import jax.numpy as jnp
from flax import nnx

from gesture_jax import config_lib
from gesture_jax.data.spec import VideoSpec
from gesture_jax.models import registry
from gesture_jax.models.registry import EncoderInfo, get, names

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def create(
    name: str,
    *,
    seed: int = 0,
    dtype: str = "float32",
    attention_impl: str | None = None,
    model_overrides: dict[str, Any] | None = None,
) -> tuple[nnx.Module, VideoSpec]:
    """A randomly initialised registered encoder and its input spec."""
    info = registry.get(name)
    if dtype not in DTYPES:
        raise ValueError(f"unknown compute dtype {dtype!r}; expected one of {sorted(DTYPES)}")
    family = importlib.import_module(f"gesture_jax.models.{info.family}")
    model_config = {**info.model_config, **(model_overrides or {})}
    model = family.build(
        model_config, dtype=DTYPES[dtype], attention_impl=attention_impl, rngs=nnx.Rngs(params=seed)
    )
    return model, info.spec


def from_config(encoder_config) -> tuple[nnx.Module, VideoSpec]:
    """The encoder a config's ``encoder`` block describes (see `config_lib.encoder`), with its spec."""
    if encoder_config.checkpoint:
        raise ValueError(
            f"encoder.checkpoint={encoder_config.checkpoint!r}: loading converted checkpoints "
            "is not supported in this version; leave it empty to use a random init"
        )
    model, spec = create(encoder_config.name, seed=encoder_config.init_seed, dtype=encoder_config.dtype)
    return model, config_lib.apply_spec_overrides(spec, encoder_config)


__all__ = ["EncoderInfo", "VideoSpec", "create", "from_config", "get", "names", "DTYPES"]
