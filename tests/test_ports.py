"""Checkpoint ports: official-format files → convert → load → outputs equal to the PyTorch reference.

Tolerances (port_cases): 1e-5 on features, logits, embeddings, intermediate tokens and scores; 1e-4 on
the ×100 zero-shot logits; 2e-6 on UMT's interpolated position table.
"""

import hashlib
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checkpoint_files import Pwn, write_zip
from flax import nnx
from main_runs import run_main
from port_cases import CHECKPOINTS, MODELS, cli, convert_case, convert_state, fixture, max_diff, state

from gesture_jax import models, run_context
from gesture_jax.models import pos_embed
from gesture_jax.ports import convert, readers

VIT_CASES = [
    "umt_dev_native",
    "umt_dev_interp",
    "videomae_v1_dev",
    "videomae_v2_dev",
    "videomae_v2_dev_pretrain",
]


@pytest.mark.parametrize("ext", ["pth", "safetensors"])
@pytest.mark.parametrize("case", VIT_CASES)
def test_vit_families_match_the_reference(case, ext, tmp_path):
    z, dst, meta = convert_case(case, tmp_path, ext)
    model, spec = models.load(dst)
    video = jnp.asarray(z["video_bthwc"])
    assert max_diff(model.features(video), z["features"]) <= 1e-5
    if "logits" in z.files:
        assert max_diff(model(video), z["logits"]) <= 1e-5
    if "encoder_tokens" in z.files:  # pre-train checkpoint: the feature is norm(token 0)
        assert max_diff(model.features(video), z["encoder_tokens"][:, 0]) <= 1e-5
    tokens = model.tokens(video)
    if "block_out_1" in z.files:  # the last block's output, before pooling
        assert max_diff(tokens, z["block_out_1"]) <= 1e-5
    if "block_out_1_b0_first64" in z.files:  # large cases store the first 64 tokens of example 0
        assert max_diff(tokens[0, :64], z["block_out_1_b0_first64"]) <= 1e-5
    assert spec.num_frames == z["video_bthwc"].shape[1]


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


def test_umt_uses_the_stored_table(tmp_path):
    """At a non-default geometry UMT's table is a parameter; the checkpoint's copy is what runs."""
    _, dst, meta = convert_case("umt_dev_interp", tmp_path)
    assert meta["model_config"]["learned_pos_embed"]
    stored = readers.read_checkpoint(os.path.join(CHECKPOINTS, "umt_dev_interp.pth"))["model"]["pos_embed"]
    model, _ = models.load(dst)
    np.testing.assert_array_equal(np.asarray(model.pos_embed[...]), stored)


@pytest.mark.parametrize("ext", ["pth", "safetensors"])
def test_viclip_matches_the_reference(ext, tmp_path):
    z, dst, _ = convert_case("viclip_dev", tmp_path, ext)
    model, spec = models.load(dst)
    video, ids = jnp.asarray(z["video_bthwc"]), jnp.asarray(z["token_ids"])
    assert max_diff(model.video_embed(video), z["video_embed"]) <= 1e-5
    assert max_diff(model.features(video), z["features"]) <= 1e-5
    assert max_diff(model.text_embed(ids), z["text_embed"]) <= 1e-5
    text = model.encode_text(ids)
    assert max_diff(text, z["text_features"]) <= 1e-5
    logits = 100.0 * model.features(video) @ text.T
    assert max_diff(logits, z["logits_100cos"]) <= 1e-4
    assert max_diff(jax.nn.softmax(logits, axis=-1), z["scores"]) <= 1e-5
    assert spec.num_frames == 4 and spec.resize == "squash"


@pytest.mark.parametrize("frames", [8, 2])
def test_viclip_other_frame_counts(frames, tmp_path):
    """More frames: temporal table linearly interpolated; fewer: truncated (the official loader)."""
    z, dst, _ = convert_case("viclip_dev", tmp_path)
    model, spec = models.load(dst, num_frames=frames)
    table = np.asarray(model.vision.temporal_positional_embedding[...])
    assert max_diff(table, z[f"temporal_pos_t{frames}"]) <= 1e-6
    video = jnp.asarray(np.transpose(z[f"video_t{frames}"], (0, 1, 3, 4, 2)))  # [B,T,C,H,W] → [B,T,H,W,C]
    assert max_diff(model.video_embed(video), z[f"video_embed_t{frames}"]) <= 1e-5
    features = model.features(video)
    assert max_diff(features, z[f"features_t{frames}"]) <= 1e-5
    scores = jax.nn.softmax(100.0 * features @ model.encode_text(jnp.asarray(z["token_ids"])).T, axis=-1)
    assert max_diff(scores, z[f"scores_t{frames}"]) <= 1e-5
    assert spec.num_frames == frames


@pytest.mark.parametrize("frames", [8, 2])
def test_viclip_runs_other_frame_counts_directly(frames, tmp_path):
    """`features` on a Te-frame video adapts the temporal table on the fly, by the same rule."""
    z, dst, _ = convert_case("viclip_dev", tmp_path)
    model, _ = models.load(dst)  # built for the checkpoint's 4 frames
    video = jnp.asarray(np.transpose(z[f"video_t{frames}"], (0, 1, 3, 4, 2)))
    assert max_diff(model.features(video), z[f"features_t{frames}"]) <= 1e-5


def test_videomae_other_frame_counts_truncate_the_sinusoid(tmp_path):
    z, dst, _ = convert_case("videomae_v2_dev", tmp_path)
    model, spec = models.load(dst, num_frames=4)
    assert spec.num_frames == 4
    np.testing.assert_array_equal(np.asarray(model.pos_embed[...]), z["pos_embed_generated"][:, :32])
    full, _ = models.load(dst)  # the 8-frame model given 4 frames uses the same (truncated) table
    video = jnp.asarray(z["video_bthwc"][:, :4])
    np.testing.assert_array_equal(np.asarray(full.features(video)), np.asarray(model.features(video)))
    umt = convert_case("umt_dev_interp", tmp_path)[1]
    with pytest.raises(ValueError, match="learned position table"):
        models.load(umt, num_frames=8)
    with pytest.raises(ValueError, match="learned position table"):
        models.load(umt)[0].features(jnp.zeros((1, 8, 32, 32, 3)))


def test_fp16_source_and_provenance(tmp_path):
    _, dst, meta = convert_case("umt_dev_native", tmp_path)
    assert meta["source"]["dtypes"] == ["float16"]
    model, _ = models.load(dst)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
    saved = json.load(open(os.path.join(dst, "model.json")))
    assert saved["family"] == "umt" and saved["source"]["file"].endswith("umt_dev_native.pth")
    src = os.path.join(CHECKPOINTS, "umt_dev_native.pth")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert saved["source"]["sha256"] == digest and saved["source"]["name"] == "umt_dev_native.pth"
    assert saved["source"]["bytes"] == os.path.getsize(src) and saved["source"]["state_key"] == "module"


def test_pretrain_decoder_dropped_by_rule(tmp_path):
    _, dst, meta = convert_case("videomae_v2_dev_pretrain", tmp_path)
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


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.pop("blocks.1.mlp.fc2.bias"), r"missing keys: \['blocks.1.mlp.fc2.bias'\]"),
        (lambda s: s.pop("blocks.0.norm1.weight"), r"missing keys: \['blocks.0.norm1.weight'\]"),
        (
            lambda s: s.update({"blocks.0.attn.k_bias": np.zeros(32, np.float32)}),
            r"unexpected keys: .*k_bias",
        ),
        (
            lambda s: s.update({"blocks.2.mlp.fc1.bias": np.zeros(128, np.float32)}),
            r"unexpected keys: .*blocks.2",
        ),
        (
            lambda s: s.update({"fc_norm.weight": np.ones(31, np.float32)}),
            r"wrong shapes: fc_norm.weight: \[31\]",
        ),
        (
            lambda s: s.update({"head.weight": np.ones((5, 31), np.float32)}),
            r"head.weight: \[5, 31\].*\[5, 32\]",
        ),
    ],
)
def test_bad_keys_are_named(edit, message, tmp_path):
    tensors = state("videomae_v1_dev")
    edit(tensors)
    with pytest.raises(convert.PortError, match=message):
        convert_state(tmp_path, tensors)
    assert not os.path.exists(tmp_path / "edited")  # nothing half written
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".edited")]


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


def test_bfloat16_compute_within_stated_tolerance(tmp_path):
    z, dst, _ = convert_case("videomae_v2_dev", tmp_path)
    model, _ = models.load(dst, dtype="bfloat16")
    assert max_diff(model.features(jnp.asarray(z["video_bthwc"])), z["features"]) <= 5e-2


def test_cli_converts_with_a_fixture_config_and_variant_errors(tmp_path):
    config_json = tmp_path / "config.json"
    config_json.write_text(fixture("umt_dev_native")[0]["config"].item())
    src = os.path.join(CHECKPOINTS, "umt_dev_native.pth")
    ok = cli(
        "--family", "umt", "--src", src, "--dst", str(tmp_path / "out"), "--model_config", str(config_json)
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "umt" in ok.stdout and os.path.exists(tmp_path / "out" / "model.json")
    wrong = cli("--family", "umt", "--variant", "viclip-b16", "--src", src, "--dst", str(tmp_path / "x"))
    assert wrong.returncode != 0 and "is a viclip encoder, not umt" in wrong.stderr
    sizes = cli("--family", "umt", "--variant", "umt-b16", "--src", src, "--dst", str(tmp_path / "y"))
    assert (
        sizes.returncode != 0 and "wrong shapes" in sizes.stderr and "patch_embed.proj.weight" in sizes.stderr
    )


def test_cli_refuses_a_pickle_that_would_run_a_command(tmp_path):
    marker = tmp_path / "pwned"
    src = write_zip(tmp_path / "evil.pth", {"model": Pwn(os.system, f"touch {marker}")})
    result = cli("--family", "umt", "--variant", "umt-b16", "--src", src, "--dst", str(tmp_path / "out"))
    assert result.returncode != 0
    assert "system" in result.stderr and "evil.pth" in result.stderr
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_knn_mode_config_with_a_converted_checkpoint(tmp_path):
    """`encoder.checkpoint` loads a converted directory; the encoder name must be of the same family."""
    import ml_collections

    from gesture_jax import config_lib

    _, dst, _ = convert_case("videomae_v2_dev", tmp_path)
    cfg = config_lib.encoder("videomae2-b16", checkpoint=dst)
    model, spec = run_context.open_encoder(cfg)
    assert spec.sampler == "videomae_v2_dense_test" and spec.num_frames == 8
    with pytest.raises(ValueError, match="holds a videomae_v2 model"):
        run_context.open_encoder(config_lib.encoder("umt-b16", checkpoint=dst))
    cfg.spec.num_frames = 4  # a frame override reaches the model's position table too
    model, spec = run_context.open_encoder(ml_collections.ConfigDict(cfg))
    assert model.config.num_frames == 4 and spec.num_frames == 4


def test_knn_experiment_with_a_converted_checkpoint(toy_data_dir, tmp_path):
    """A converted (tiny, official-format) UMT runs the KNN experiment with its own multi-view protocol."""
    _, dst, meta = convert_case("umt_dev_interp", tmp_path)
    assert (
        meta["spec"]["crop_size"] == 32 and meta["spec"]["num_clips"] == 4 and meta["spec"]["crop"] == "three"
    )
    workdir = tmp_path / "run"
    result = run_main(
        "configs/demo.py:smoke",
        workdir,
        f"--config.data.data_dir={toy_data_dir}",
        "--config.encoder.name=umt-b16",
        f"--config.encoder.checkpoint={dst}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
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
