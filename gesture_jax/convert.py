r"""Ports a reference checkpoint to an Orbax model directory: an official PyTorch file (.pth/.pt/.bin or
.safetensors), a transformers save_pretrained folder, or VideoPrism's official .npz.

    python -m gesture_jax.convert --family umt --variant umt-b16 \
        --src b16_ptk710_ftk710_f8_res224.pth --dst ckpts/umt-b16-ptk710-ftk710
    python -m gesture_jax.convert --family dinov2 --src dinov2-base --dst ckpts/dinov2-b14   # HF folder
    python -m gesture_jax.convert --family videoprism --variant videoprism-b \
        --src flax_base_f16r288_repeated.npz --dst ckpts/videoprism-b
    python -m gesture_jax.convert --family viclip --src viclip_dev.pth --dst /tmp/viclip \
        --model_config "$(python -c 'import json,numpy as np; print(np.load("viclip_dev.npz")["config"])')"
    python -m gesture_jax.convert --verify \
        --src b16_ptk710_ftk710_f8_res224.pth --dst ckpts/umt-b16-ptk710-ftk710

`--variant` names a registered size (`python -m gesture_jax.convert --list` shows them); `--model_config`
takes a JSON object (or a file holding one), e.g. a parity fixture's ``config`` or VideoPrism's constructor
arguments; a transformers folder needs neither (its config.json gives the sizes). The file is never
executed: pickles may reference tensors, storages and inert containers only. torch is not needed.
Training saves work as they are: wrapper prefixes (``module.``, ``_orig_mod.``, ...) are stripped, and
``--state_key`` picks the weight set when a file holds several (``model``, ``model_ema``).
`--verify` re-reads both sides and checks the converted tensors equal the file's bit for bit; it exits
non-zero on any mismatch.
"""

from __future__ import annotations

import json
import logging
import os

from absl import app, flags

from gesture_jax.infra import cli
from gesture_jax.models import registry
from gesture_jax.ports import convert, verify

_FAMILY = flags.DEFINE_enum("family", None, registry.ported_families(), "Checkpoint family.")
_SRC = flags.DEFINE_string("src", None, "Official checkpoint file (or transformers folder).")
_DST = flags.DEFINE_string("dst", None, "Output directory (model.json + params/).")
_VARIANT = flags.DEFINE_string("variant", None, "Registered encoder whose size the checkpoint has.")
_MODEL_CONFIG = flags.DEFINE_string("model_config", None, "JSON object (or a file) with the model sizes.")
_DROP_HEAD = flags.DEFINE_bool("drop_head", False, "Drop the classifier head (features only).")
_STATE_KEY = flags.DEFINE_string(
    "state_key", None, "Top-level entry holding the weights (default: 'model', else 'module', else the file)."
)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing --dst.")
_VERIFY = flags.DEFINE_bool(
    "verify", False, "Check that --dst holds exactly the tensors of --src (the rest comes from model.json)."
)
_LIST = flags.DEFINE_bool("list", False, "List the registered encoders and exit.")


def _model_config(family: str) -> dict | None:
    """The sizes from --variant or --model_config; None for a format that carries its own config (a
    transformers folder's config.json)."""
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
    if registry.get_family(family).checkpoint == "hf":
        return None
    raise app.UsageError("give --variant (a registered size) or --model_config (JSON)")


def _verify() -> int:
    for flag in (_SRC, _DST):
        if flag.value is None:
            raise app.UsageError(f"--{flag.name} is required")
    given = [
        f"--{n}"
        for n in ("family", "variant", "model_config", "state_key", "drop_head")
        if flags.FLAGS[n].present
    ]
    if given:
        raise app.UsageError(f"--verify takes --src and --dst only; {', '.join(given)} come from model.json")
    ok, verdict = verify.verify(_SRC.value, _DST.value)
    print(verdict)
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _LIST.value:
        for name in registry.names():
            info = registry.get(name)
            print(f"{name:20s} {info.family:12s} {info.description}")
        return 0
    if _VERIFY.value:
        return _verify()
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
        state_key=_STATE_KEY.value,
        overwrite=_OVERWRITE.value,
    )
    source = meta["source"]
    logging.info("dropped %d keys by rule: %s", len(source["dropped_keys"]), source["dropped_keys"])
    container = f"'{source['state_key']}'" if source["state_key"] is not None else "the top level"
    print(
        f"{_SRC.value} -> {_DST.value}: {meta['family']}, {source['num_params']:,} parameters from "
        f"{container} (stored as {', '.join(source['dtypes'])}), "
        f"{len(source['dropped_keys'])} keys dropped by rule, sha256 {source['sha256']}"
    )
    if source["all_zero_tensors"]:
        print(f"WARNING: all-zero tensors (check they are meant to be): {source['all_zero_tensors']}")
    return 0


if __name__ == "__main__":
    cli.entry_point(main, __doc__)
