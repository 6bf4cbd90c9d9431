"""A reference checkpoint → Orbax parameters + ``model.json``, checking every key and shape.

One mechanism for every family: read the source in the family's format (`sources`: a torch file, read
safely with no code from it run, its state dict taken out of its container, or a transformers folder),
let the family rewrite it if it must (`prepare_checkpoint`), strip wrapper prefixes, drop keys by rule,
map each key through the family's key map (``KEYMAP``), and compare against the parameters the model
expects. Every missing, unexpected or wrong-shape key is reported at once, by its PyTorch name, as is
every tensor with NaN/Inf; all-zero tensors are warned about. Weights are stored in float32, and
``model.json`` records where they came from (file name, size, sha256, state key).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from gesture_jax import models
from gesture_jax.models import keymap as keymap_lib
from gesture_jax.models import model_dir, registry
from gesture_jax.ports import sources
from gesture_jax.ports.sources import PortError, state_dict  # noqa: F401  (re-exported: the ports' API)


def strip_prefixes(family: str, sd: dict[str, np.ndarray], source: str) -> dict[str, tuple[str, np.ndarray]]:
    """{name without wrapper prefixes: (key in the file, tensor)}; two keys that strip alike are an error."""
    keymap = keymap_of(family)
    out: dict[str, tuple[str, np.ndarray]] = {}
    for key, value in sd.items():
        name = keymap.strip(key)
        if name in out:
            raise PortError(f"{source}: the keys {out[name][0]!r} and {key!r} both strip to {name!r}")
        out[name] = (key, value)
    return out


def stored(array: np.ndarray) -> np.ndarray:
    """What a (transformed) source tensor is stored as: floats as float32 (exact from fp16/bf16)."""
    if array.dtype.kind != "f":
        return array
    with np.errstate(over="ignore"):  # a float64 beyond float32 becomes inf, which check_health reports
        return np.asarray(array, np.float32)


def check_health(params: dict[str, np.ndarray], sources: dict[str, str], source: str) -> list[str]:
    """Raises `PortError` naming every converted tensor with NaN/Inf; returns (and warns about) the
    all-zero ones, by PyTorch key. Zeros can be legitimate (ViCLIP's temporal table at init), but they
    are also what a weight that silently failed to load looks like (zero q_bias/v_bias in other ports)."""
    non_finite, zero = [], []
    for path, array in params.items():
        if array.dtype.kind == "f":
            count = array.size - int(np.count_nonzero(np.isfinite(array)))
            if count:
                non_finite.append(f"{sources[path]} ({count} of {array.size} values)")
        if array.size and not np.any(array):
            zero.append(sources[path])
    if non_finite:
        raise PortError(f"{source}: non-finite values (NaN/Inf) in: " + "; ".join(sorted(non_finite)))
    if zero:
        logging.warning("%s: all-zero tensors (check they are meant to be): %s", source, sorted(zero))
    return sorted(zero)


# --- model configs: sizes from --variant or --model_config, geometry facts from the checkpoint ---------


def keymap_of(family: str) -> keymap_lib.KeyMap:
    """The family's checkpoint key map; a `PortError` for a family without a port."""
    if family not in registry.ported_families():
        raise PortError(f"family {family!r} has no checkpoint port; ported: {registry.ported_families()}")
    return models.family_module(family).KEYMAP


def model_config_from_json(family: str, data: dict[str, Any]) -> dict[str, Any]:
    """A model config from a fixture's ``config`` JSON (descriptive fields ignored; the reference
    constructor's arguments where the family maps them, `reference_config`) or our own fields."""
    fam = registry.get_family(family)
    if data.get("family", family) != family:
        raise PortError(f"--model_config describes family {data['family']!r}, not {family!r}")
    module = models.family_module(family)
    fields = module.CONFIG_CLASS.__dataclass_fields__
    config = {k: v for k, v in data.items() if k in fields}
    if hasattr(module, "reference_config"):
        config.update(module.reference_config(data))
    return {**fam.config_defaults, **config}


# --- the shared mechanism ---------------------------------------------------------------------------


def map_state_dict(
    family: str,
    stripped: dict[str, tuple[str, np.ndarray]],
    expected: dict[str, tuple[int, ...]],
    *,
    drop: tuple[str, ...] = (),
    source: str = "",
) -> tuple[dict[str, np.ndarray], list[str], dict[str, str]]:
    """(our params {path: float32 array}, dropped keys, {path: its key in the file}).

    `stripped` is `strip_prefixes`' output; keys are dropped by rule (or `drop`, stripped names), then
    mapped. Raises `PortError` naming every bad key.
    """
    keymap = keymap_of(family)
    params, dropped, unexpected, wrong_shape, sources = {}, [], [], [], {}
    for name, (key, value) in stripped.items():
        if keymap.is_dropped(name) or name in drop:
            dropped.append(key)
            continue
        target = keymap.to_ours(name)
        if target is None or target[0] not in expected:
            unexpected.append(key)
            continue
        path, transform = target
        array = transform(value)
        if tuple(array.shape) != tuple(expected[path]):
            wrong_shape.append(
                f"{key}: {list(value.shape)} in the checkpoint, the model needs "
                f"{keymap_lib.layout_shape(expected[path], transform)}"
            )
            continue
        if path in params:
            raise PortError(f"{source}: {key} and {sources[path]} both map to {path}")
        params[path] = stored(array)
        sources[path] = key
    missing = [keymap.to_torch(p) for p in expected if p not in params]
    problems = [
        f"missing keys: {sorted(missing)}" if missing else "",
        f"unexpected keys: {sorted(unexpected)}" if unexpected else "",
        "wrong shapes: " + "; ".join(sorted(wrong_shape)) if wrong_shape else "",
    ]
    problems = [p for p in problems if p]
    if problems:
        raise PortError(f"{source}: the checkpoint does not fit the {family} model: " + " | ".join(problems))
    return params, sorted(dropped), sources


def prepared(module, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The checkpoint's tensors after the family's `prepare_checkpoint` (e.g. transformers' separate
    query/key/value weights fused into the one projection the model has), if it has one."""
    prepare = getattr(module, "prepare_checkpoint", None)
    return prepare(tensors) if prepare else tensors


def config_from_source(family: str, source: sources.Source, src: str) -> dict[str, Any]:
    """A model config from the source's own config (the family's `config_from_source`)."""
    module = models.family_module(family)
    if source.config is None or not hasattr(module, "config_from_source"):
        raise PortError(
            f"{src}: the {family} format carries no model config; give --variant or --model_config"
        )
    return {**registry.get_family(family).config_defaults, **module.config_from_source(source.config)}


def expected_params(family: str, model_config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """{path: shape} of every trainable parameter of the model (no weights are allocated)."""
    return models.param_shapes(family, model_config)


def convert(
    family: str,
    src: str,
    dst: str,
    *,
    model_config: dict[str, Any] | None,
    encoder: str | None = None,
    drop_head: bool = False,
    state_key: str | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Ports `src` into `dst` (``model.json`` + Orbax ``params/``); returns the written ``model.json``.

    `model_config` None: from the source's own config (a transformers folder's config.json).
    `state_key` names the top-level entry holding the weights when the default rule picks the wrong one.
    """
    fam = registry.get_family(family)
    keymap_of(family)  # a family without a port fails before any file is read
    if os.path.exists(dst) and not overwrite:
        raise FileExistsError(f"{dst} exists; pass --overwrite to replace it")
    module = models.family_module(family)
    source = sources.read(fam.checkpoint, src, state_key, tuple(getattr(module, "STATE_KEYS", ())))
    if model_config is None:
        model_config = config_from_source(family, source, src)
    raw = prepared(module, source.tensors)
    stored_dtypes = sorted({str(v.dtype) for v in source.tensors.values()})
    stripped = strip_prefixes(family, raw, src)
    config = module.checkpoint_facts(
        {name: value for name, (_, value) in stripped.items()}, model_config, drop_head
    )
    # --drop_head: the family's classifier keys (`HEAD_PREFIXES`, default the official "head.").
    head = tuple(getattr(module, "HEAD_PREFIXES", ("head.",)))
    drop = tuple(k for k in stripped if drop_head and k.startswith(head))
    params, dropped, origins = map_state_dict(
        family, stripped, expected_params(family, config), drop=drop, source=src
    )
    for key in dropped:
        logging.info("dropped by rule: %s", key)
    all_zero = check_health(params, origins, src)
    # The family's protocol at the model's own geometry (custom sizes keep their frame count and size).
    # The resize keeps the protocol's resize/crop ratio (DINOv2: 256 → 224).
    base = registry.get(encoder).spec if encoder else fam.spec
    size = config.get("img_size", base.crop_size)
    spec = base.replace(
        num_frames=config.get("num_frames", base.num_frames),
        resize_size=round(base.resize_size * size / base.crop_size),
        crop_size=size,
    )
    meta = {
        "format_version": model_dir.FORMAT_VERSION,
        "family": family,
        "encoder": encoder,
        "model_config": config,
        "spec": spec.to_dict(),
        # Fields are only ever added here, so older model.json files stay readable (same version).
        "source": {
            "file": os.path.abspath(src),
            "name": os.path.basename(os.path.normpath(src)),
            "format": fam.checkpoint,
            "files": [os.path.relpath(f, src) if f != src else os.path.basename(f) for f in source.files],
            "bytes": sum(os.path.getsize(f) for f in source.files),
            "sha256": sources.digest(source.files),
            "state_key": source.state_key,
            "drop_head": drop_head,
            "dtypes": stored_dtypes,
            "dropped_keys": dropped,
            "all_zero_tensors": all_zero,
            "num_params": int(sum(v.size for v in params.values())),
        },
    }
    model_dir.write(dst, params, meta, overwrite)
    return meta
