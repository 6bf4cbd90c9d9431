"""Video encoders in Flax NNX, by registered name or from a converted checkpoint directory.

model, spec = models.create("toy-vit", seed=0)          # random init
model, spec = models.load("ckpts/umt-b16-k710")         # made by `python -m gesture_jax.convert`
features = model.features(video)  # video: float32 [B, T, H, W, 3], preprocessed per `spec`
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import jax.numpy as jnp
from flax import nnx

from gesture_jax.data.spec import VideoSpec
from gesture_jax.models import attention_kernels, family, model_dir, registry
from gesture_jax.models.registry import EncoderInfo, get, names, ported_families

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def family_module(name: str) -> ModuleType:
    """The module of family `name`, with the members of the contract (`gesture_jax.models.family`)."""
    fam = registry.get_family(name)
    module = importlib.import_module(f"gesture_jax.models.{fam.module}")
    family.check(module)
    if fam.checkpoint and not family.has_port(module):
        raise TypeError(
            f"family {name!r} names checkpoint format {fam.checkpoint!r} but {module.__name__} has no KEYMAP"
        )
    return module


def text_tower(name: str) -> family.TextTower:
    """Family `name`'s text side for zero-shot (an error naming the family when it has no text tower)."""
    return family.text_tower(family_module(name))


def _dtype(name: str):
    if name not in DTYPES:
        raise ValueError(f"unknown compute dtype {name!r}; expected one of {sorted(DTYPES)}")
    return DTYPES[name]


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
    model_config = {**info.model_config, **(model_overrides or {})}
    model = family_module(info.family).build(
        model_config, dtype=_dtype(dtype), attention_impl=attention_impl, rngs=nnx.Rngs(params=seed)
    )
    return model, info.spec


def param_shapes(family: str, model_config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """{dotted path: shape} of the trainable parameters, without allocating them."""
    module = family_module(family)
    abstract = nnx.eval_shape(lambda: module.build(model_config, rngs=nnx.Rngs(0)))
    return {
        _dotted(p): tuple(v.get_value().shape) for p, v in nnx.to_flat_state(nnx.state(abstract, nnx.Param))
    }


def load(
    path: str,
    *,
    dtype: str = "float32",
    attention_impl: str | None = None,
    num_frames: int | None = None,
    model_overrides: dict[str, Any] | None = None,
) -> tuple[nnx.Module, VideoSpec]:
    """The encoder in a directory written by ``gesture_jax.convert``, and its input spec.

    `num_frames` runs it at another frame count with the family's rule (VideoMAE: the sinusoid for the
    new token count; UMT: its resized table; ViCLIP: temporal table interpolated or truncated).
    """
    meta = model_dir.read_meta(path)
    module = family_module(meta["family"])
    config = dict(meta["model_config"])
    params = model_dir.read_params(path)
    if num_frames is not None and num_frames != config["num_frames"]:
        new = {**config, "num_frames": num_frames}
        params = module.adapt_params(params, config, new)
        config = new
    config.update(model_overrides or {})  # fields that change no shape, such as drop_path_rate
    model = _assemble(module, config, params, _dtype(dtype), attention_impl, source=path)
    spec = VideoSpec.from_dict(meta["spec"]).replace(num_frames=config["num_frames"])
    return model, spec


def _assemble(module: ModuleType, config: dict, params: dict, dtype, attention_impl, *, source: str):
    """The model with every variable set from `params` (trained) or `module.buffers` (derived)."""
    abstract = nnx.eval_shape(
        lambda: module.build(config, dtype=dtype, attention_impl=attention_impl, rngs=nnx.Rngs(0))
    )
    graphdef, state = nnx.split(abstract)
    derived = module.buffers(config)
    filled, missing = [], []
    for path, var in nnx.to_flat_state(state):
        name = _dotted(path)
        value = params.get(name) if isinstance(var, nnx.Param) else derived.get(name)
        if value is None or tuple(value.shape) != tuple(var.get_value().shape):
            missing.append(name)
            continue
        filled.append((path, var.replace(jnp.asarray(value))))
    if missing:
        raise ValueError(f"{source}: parameters missing or of the wrong shape: {missing}")
    return nnx.merge(graphdef, nnx.from_flat_state(filled))


def _dotted(path: tuple) -> str:
    return ".".join(map(str, path))


def open_encoder(
    name: str,
    checkpoint: str = "",
    *,
    init_seed: int = 0,
    dtype: str = "float32",
    attention_impl: str | None = None,
    num_frames: int | None = None,
    model_overrides: dict[str, Any] | None = None,
) -> tuple[nnx.Module, VideoSpec]:
    """Registered encoder `name` with the weights in `checkpoint` (converted), else its shipped weights
    (`weights_dir`), else random-init from `init_seed`; `num_frames` (checkpoints only) applies the
    family's frame-count rule; `attention_impl` is one of `attention_kernels.IMPLS` (None: "auto")."""
    attention_kernels.check_impl(attention_impl)
    checkpoint = weights_dir(name, checkpoint)
    if not checkpoint:
        return create(
            name, seed=init_seed, dtype=dtype, attention_impl=attention_impl, model_overrides=model_overrides
        )
    # A frame-count override changes the model too (its position tables), not only the sampler.
    model, spec = load(
        checkpoint,
        dtype=dtype,
        attention_impl=attention_impl,
        num_frames=num_frames,
        model_overrides=model_overrides,
    )
    family, meta_family = registry.get(name).family, _checkpoint_family(checkpoint)
    if meta_family != family:
        raise ValueError(
            f"encoder.name={name!r} is a {family} encoder but {checkpoint} holds a {meta_family} model"
        )
    return model, spec


def weights_dir(name: str, checkpoint: str = "") -> str:
    """The converted directory encoder `name` loads: `checkpoint` when given, else the weights shipped with
    a registered pre-trained encoder (``toy-vit-pretrained``), else "" (random init)."""
    if checkpoint:
        return checkpoint
    shipped = registry.get(name).weights
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), shipped) if shipped else ""


def _checkpoint_family(path: str) -> str:
    return model_dir.read_meta(path)["family"]


__all__ = [
    "EncoderInfo",
    "VideoSpec",
    "create",
    "load",
    "open_encoder",
    "weights_dir",
    "get",
    "names",
    "ported_families",
    "DTYPES",
]
