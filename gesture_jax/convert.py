"""Ports an official PyTorch checkpoint (.pth/.pt/.bin or .safetensors) to an Orbax model directory.

    python -m gesture_jax.convert --family umt --variant umt-b16 \
        --src b16_ptk710_ftk710_f8_res224.pth --dst ckpts/umt-b16-ptk710-ftk710
    python -m gesture_jax.convert --family viclip --src viclip_dev.pth --dst /tmp/viclip \
        --model_config "$(python -c 'import json,numpy as np; print(np.load("viclip_dev.npz")["config"])')"

`--variant` names a registered size (`python -m gesture_jax.convert --list` shows them); `--model_config`
takes a JSON object (or a file holding one), e.g. a parity fixture's ``config``. The file is never
executed: pickles may reference tensors, storages and plain containers only. torch is not needed.
"""

from __future__ import annotations

import json
import logging
import os

from absl import app, flags

from gesture_jax.models import registry
from gesture_jax.ports import convert, keymaps

_FAMILY = flags.DEFINE_enum("family", None, sorted(keymaps.KEYMAPS), "Checkpoint family.")
_SRC = flags.DEFINE_string("src", None, "Official checkpoint file.")
_DST = flags.DEFINE_string("dst", None, "Output directory (model.json + params/).")
_VARIANT = flags.DEFINE_string("variant", None, "Registered encoder whose size the checkpoint has.")
_MODEL_CONFIG = flags.DEFINE_string("model_config", None, "JSON object (or a file) with the model sizes.")
_DROP_HEAD = flags.DEFINE_bool("drop_head", False, "Drop the classifier head (features only).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing --dst.")
_LIST = flags.DEFINE_bool("list", False, "List the registered encoders and exit.")


def _model_config(family: str) -> dict:
    if _VARIANT.value and _MODEL_CONFIG.value:
        raise app.UsageError("give --variant or --model_config, not both")
    if _VARIANT.value:
        info = registry.get(_VARIANT.value)
        if info.family != family:
            raise app.UsageError(f"--variant {info.name} is a {info.family} encoder, not {family}")
        return dict(info.model_config)
    if _MODEL_CONFIG.value:
        text = _MODEL_CONFIG.value
        if os.path.exists(text):
            with open(text) as f:
                text = f.read()
        return convert.model_config_from_json(family, json.loads(text))
    raise app.UsageError("give --variant (a registered size) or --model_config (JSON)")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _LIST.value:
        for name in registry.names():
            info = registry.get(name)
            print(f"{name:16s} {info.family:12s} {info.description}")
        return
    for flag in (_FAMILY, _SRC, _DST):
        if flag.value is None:
            raise app.UsageError(f"--{flag.name} is required")
    meta = convert.convert(
        _FAMILY.value,
        _SRC.value,
        _DST.value,
        model_config=_model_config(_FAMILY.value),
        encoder=_VARIANT.value,
        drop_head=_DROP_HEAD.value,
        overwrite=_OVERWRITE.value,
    )
    source = meta["source"]
    logging.info("dropped %d keys by rule: %s", len(source["dropped_keys"]), source["dropped_keys"])
    print(
        f"{_SRC.value} -> {_DST.value}: {meta['family']}, {source['num_params']:,} parameters "
        f"(stored as {', '.join(source['dtypes'])}), {len(source['dropped_keys'])} keys dropped by rule"
    )


if __name__ == "__main__":
    app.run(main)
