"""The parity cases of the checkpoint ports, shared by the port tests: fixture files, conversion, the
reference comparison, and the convert command (in a subprocess, or in-process through its absl main).

The fixtures (tests/fixtures/models/*.npz, tests/fixtures/checkpoints/*) were made with the official code
(random weights, tiny configs, fp32). Tolerances: 1e-5 on features, logits, embeddings, intermediate tokens
and scores; 1e-4 on the ×100 zero-shot logits. Every family's cases, as the conformance kit checks them,
are tabled in family_cases.py.
"""

import contextlib
import io
import json
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np

from gesture_jax import models
from gesture_jax.ports import convert, readers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "fixtures", "models")
CHECKPOINTS = os.path.join(ROOT, "tests", "fixtures", "checkpoints")


def fixture(case):
    z = np.load(os.path.join(MODELS, f"{case}.npz"))
    return z, json.loads(z["config"].item())


def model_config(case):
    config = fixture(case)[1]
    return config["family"], convert.model_config_from_json(config["family"], config)


def convert_case(case, tmp_path, ext="pth", **kwargs):
    z, _ = fixture(case)
    family, config = model_config(case)
    dst = str(tmp_path / f"{case}_{ext}")
    src = os.path.join(CHECKPOINTS, f"{case}.{ext}")
    meta = convert.convert(family, src, dst, model_config=config, **kwargs)
    return z, dst, meta


def max_diff(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def assert_matches_reference(case, dst):
    """The converted model in `dst` gives the PyTorch reference's features and logits (ViCLIP: video and
    text features, ×100 logits)."""
    z, config = fixture(case)
    model, _ = models.load(dst)
    video = jnp.asarray(z["video_bthwc"])
    assert max_diff(model.features(video), z["features"]) <= 1e-5
    if config["family"] == "viclip":
        text = model.encode_text(jnp.asarray(z["token_ids"]))
        assert max_diff(text, z["text_features"]) <= 1e-5
        assert max_diff(100.0 * model.features(video) @ text.T, z["logits_100cos"]) <= 1e-4
    elif "logits" in z.files:
        assert max_diff(model(video), z["logits"]) <= 1e-5


def state(case):
    """A fixture's state dict, float32, from its safetensors copy."""
    path = os.path.join(CHECKPOINTS, f"{case}.safetensors")
    return {k: np.asarray(v, np.float32) for k, v in readers.read_checkpoint(path).items()}


def convert_state(tmp_path, tensors, case="videomae_v1_dev", name="edited", dtype="F32", **kwargs):
    """Converts `tensors` (written as a safetensors file) with `case`'s model config."""
    from checkpoint_files import write_safetensors

    family, config = model_config(case)
    src = write_safetensors(tmp_path / f"{name}.safetensors", {k: (dtype, v) for k, v in tensors.items()})
    return convert.convert(family, str(src), str(tmp_path / name), model_config=config, **kwargs)


class HFCase:
    """A transformers-folder fixture, ``tests/fixtures/hf/<name>`` (config.json, model.safetensors,
    io.npz): its outputs, tensors and config, and edited copies written as folders."""

    def __init__(self, name: str):
        self.path = os.path.join(ROOT, "tests", "fixtures", "hf", name)

    def io(self):
        return np.load(os.path.join(self.path, "io.npz"))

    def tensors(self) -> dict[str, np.ndarray]:
        return readers.read_safetensors(os.path.join(self.path, "model.safetensors"))

    def config_json(self) -> dict:
        with open(os.path.join(self.path, "config.json")) as f:
            return json.load(f)

    def folder(self, path, tensors, config=None) -> str:
        """A transformers-style folder holding `tensors` and the fixture's config.json (or `config`)."""
        from safetensors.numpy import save_file

        os.makedirs(path)
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump(config or self.config_json(), f)
        arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        save_file(arrays, os.path.join(path, "model.safetensors"))
        return str(path)


def cli(*args):
    """`python -m gesture_jax.convert ARGS` in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "gesture_jax.convert", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )


def cli_in_process(*args):
    """(exit status, stdout) of the convert command's absl main, run here: a subprocess costs seconds."""
    from absl import flags

    from gesture_jax import convert as command

    out = io.StringIO()
    try:
        argv = flags.FLAGS(["convert", *args])
        with contextlib.redirect_stdout(out):
            status = command.main(argv)
    finally:
        flags.FLAGS.unparse_flags()
    return status, out.getvalue()
