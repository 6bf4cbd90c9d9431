"""Checkpoint ports of the official PyTorch formats (UMT, VideoMAE v1/V2, ViCLIP): what the conformance
kit (test_family_conformance.py, which matches every fixture case to its PyTorch reference) leaves to
them — the generated position tables, UMT's stored table, VideoMAE's truncated sinusoid, fp16 sources and
provenance, dropped decoders, wrapper prefixes, --drop_head, --overwrite, the command's variant checks and
unpickling guard, and converted checkpoints in the KNN experiment.

Tolerances (port_cases): 1e-5 on features; 2e-6 on UMT's interpolated position table.
"""

import hashlib
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl import app
from checkpoint_files import Pwn, write_zip
from family_cases import converted
from flax import nnx
from mode_cases import CASES, load_config, run_here
from port_cases import (
    CHECKPOINTS,
    MODELS,
    cli_in_process,
    convert_case,
    convert_state,
    fixture,
    max_diff,
    state,
)

from gesture_jax import models
from gesture_jax.evaluation import run_context
from gesture_jax.models import model_dir, pos_embed
from gesture_jax.ports import convert, readers


def test_position_tables():
    _, config = fixture("umt_dev_interp")
    z = np.load(os.path.join(MODELS, "umt_dev_interp.npz"))
    grid = tuple(config["grid_thw"])
    assert max_diff(pos_embed.umt_table(grid, config["embed_dim"]), z["pos_embed_generated"]) <= 2e-6
    native = np.load(os.path.join(MODELS, "umt_dev_native.npz"))
    np.testing.assert_array_equal(pos_embed.sinusoid_table(1568, 32), native["pos_embed_generated"])
    for case in ("videomae_v1_dev", "videomae_v2_dev"):
        z, config = fixture(case)
        table = pos_embed.sinusoid_table(config["num_tokens"], config["embed_dim"])
        np.testing.assert_array_equal(table, z["pos_embed_generated"])


def test_umt_uses_the_stored_table():
    """At a non-default geometry UMT's table is a parameter; the checkpoint's copy is what runs."""
    dst = converted("umt_dev_interp").dst
    assert model_dir.read_meta(dst)["model_config"]["learned_pos_embed"]
    stored = readers.read_checkpoint(os.path.join(CHECKPOINTS, "umt_dev_interp.pth"))["model"]["pos_embed"]
    model, _ = models.load(dst)
    np.testing.assert_array_equal(np.asarray(model.pos_embed[...]), stored)


def test_videomae_other_frame_counts_truncate_the_sinusoid():
    z = fixture("videomae_v2_dev")[0]
    dst = converted("videomae_v2_dev").dst
    model, spec = models.load(dst, num_frames=4)
    assert spec.num_frames == 4
    np.testing.assert_array_equal(np.asarray(model.pos_embed[...]), z["pos_embed_generated"][:, :32])
    full, _ = models.load(dst)  # the 8-frame model given 4 frames uses the same (truncated) table
    features = nnx.jit(lambda a, b, video: (a.features(video), b.features(video)))  # eager: seconds
    np.testing.assert_array_equal(*features(full, model, z["video_bthwc"][:, :4]))


def test_fp16_source_and_provenance():
    dst = converted("umt_dev_native").dst
    assert model_dir.read_meta(dst)["source"]["dtypes"] == ["float16"]
    model, _ = models.load(dst)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
    saved = json.load(open(os.path.join(dst, "model.json")))
    assert saved["family"] == "umt" and saved["source"]["file"].endswith("umt_dev_native.pth")
    src = os.path.join(CHECKPOINTS, "umt_dev_native.pth")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert saved["source"]["sha256"] == digest and saved["source"]["name"] == "umt_dev_native.pth"
    assert saved["source"]["bytes"] == os.path.getsize(src) and saved["source"]["state_key"] == "module"


def test_pretrain_decoder_dropped_by_rule():
    meta = model_dir.read_meta(converted("videomae_v2_dev_pretrain").dst)
    _, config = fixture("videomae_v2_dev_pretrain")
    expected = config["checkpoint"]["unused_keys_after_strip"]
    assert sorted(k.removeprefix("encoder.") for k in meta["source"]["dropped_keys"]) == sorted(expected)
    assert meta["model_config"]["use_mean_pooling"] is False and meta["model_config"]["num_classes"] == 0


@pytest.mark.parametrize(
    "prefix",
    [
        "backbone.",
        "encoder.",
        "_orig_mod.",
        "module.",
        "model.",
        "module._orig_mod.",
        "_orig_mod.model.encoder.",
    ],
)
def test_prefixes_are_stripped(prefix, tmp_path):
    z, _ = fixture("videomae_v1_dev")
    convert_state(tmp_path, {prefix + k: v for k, v in state("videomae_v1_dev").items()})
    model, _ = models.load(str(tmp_path / "edited"))
    assert max_diff(model.features(jnp.asarray(z["video_bthwc"])), z["features"]) <= 1e-5


def test_drop_head(tmp_path):
    z, dst, meta = convert_case("videomae_v1_dev", tmp_path, drop_head=True)
    assert meta["model_config"]["num_classes"] == 0
    assert "head.weight" in meta["source"]["dropped_keys"]
    model, _ = models.load(dst)
    assert max_diff(model.features(jnp.asarray(z["video_bthwc"])), z["features"]) <= 1e-5


def test_existing_destination_needs_overwrite(tmp_path):
    _, dst, _ = convert_case("videomae_v1_dev", tmp_path)
    with pytest.raises(FileExistsError):
        convert_case("videomae_v1_dev", tmp_path)
    convert_case("videomae_v1_dev", tmp_path, overwrite=True)


def test_cli_refuses_a_variant_of_another_family_or_size(tmp_path):
    umt = ("--family", "umt", "--src", os.path.join(CHECKPOINTS, "umt_dev_native.pth"))
    with pytest.raises(app.UsageError, match="is a viclip encoder, not umt"):
        cli_in_process(*umt, "--variant", "viclip-b16", "--dst", str(tmp_path / "x"))
    with pytest.raises(convert.PortError, match="wrong shapes.*patch_embed.proj.weight"):
        cli_in_process(*umt, "--variant", "umt-b16", "--dst", str(tmp_path / "y"))
    assert not os.listdir(tmp_path)


def test_cli_refuses_a_pickle_that_would_run_a_command(tmp_path):
    marker = tmp_path / "pwned"
    src = write_zip(tmp_path / "evil.pth", {"model": Pwn(os.system, f"touch {marker}")})
    dst = tmp_path / "out"
    with pytest.raises(readers.UnsafeCheckpointError, match="system") as refused:
        cli_in_process("--family", "umt", "--variant", "umt-b16", "--src", src, "--dst", str(dst))
    assert "evil.pth" in str(refused.value)
    assert not marker.exists() and not dst.exists()


def test_knn_mode_config_with_a_converted_checkpoint():
    """`encoder.checkpoint` loads a converted directory; the encoder name must be of the same family."""
    import ml_collections

    from gesture_jax import config_lib

    dst = converted("videomae_v2_dev").dst
    cfg = config_lib.encoder("videomae2-b16", checkpoint=dst)
    model, spec = run_context.open_encoder(cfg)
    assert spec.sampler == "videomae_v2_dense_test" and spec.num_frames == 8
    with pytest.raises(ValueError, match="holds a videomae_v2 model"):
        run_context.open_encoder(config_lib.encoder("umt-b16", checkpoint=dst))
    cfg.spec.num_frames = 4  # a frame override reaches the model's position table too
    model, spec = run_context.open_encoder(ml_collections.ConfigDict(cfg))
    assert model.config.num_frames == 4 and spec.num_frames == 4


@pytest.mark.slow  # the experiment's entry point in a subprocess
def test_knn_experiment_with_a_converted_checkpoint(toy_data_dir, tmp_path):
    """A converted (tiny, official-format) UMT runs the KNN experiment (the demo's smoke config) with its own
    multi-view protocol."""
    dst = converted("umt_dev_interp").dst
    meta = model_dir.read_meta(dst)
    assert (
        meta["spec"]["crop_size"] == 32 and meta["spec"]["num_clips"] == 4 and meta["spec"]["crop"] == "three"
    )
    workdir = tmp_path / "run"
    # In this process (its compiled programs are reused); the command line is the mode kit's to check.
    fields = {"data.data_dir": toy_data_dir, "encoder.name": "umt-b16", "encoder.checkpoint": dst}
    run_here(load_config(CASES["knn"], fields), workdir)
    rows = json.load(open(workdir / "results.json"))["rows"]
    paper = [r for r in rows if "protocol" in r.get("roles", ())]  # one per gallery; every probe beside
    assert [r["encoder"] for r in paper] == ["umt-b16", "umt-b16"] and paper[0]["num_queries"] == 21
    assert {r["encoder"] for r in rows} == {"umt-b16"} and {r["method"] for r in rows} == {
        "knn",
        "prototype",
        "linear_probe",
    }
    (entry,) = [e for e in os.listdir(workdir / "features") if "real_small_test" in e]
    feats = np.load(workdir / "features" / entry / "features.npz")["features"]
    assert feats.shape == (21, 32)  # the fixture model's width


def test_each_checkpoint_format_has_a_reader_and_an_unknown_one_is_named():
    from gesture_jax.models import registry
    from gesture_jax.ports import sources

    assert {f.checkpoint for f in registry.FAMILIES.values() if f.checkpoint} == set(sources.READERS)
    with pytest.raises(sources.SourceError, match="unknown checkpoint format 'onnx'; known: "):
        sources.read("onnx", "model.onnx")
