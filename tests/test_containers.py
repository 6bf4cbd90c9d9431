"""Checkpoints as training code saves them → ``python -m gesture_jax.convert`` → the reference outputs;
wrapper prefixes, the choice of weight set, provenance in model.json, the tensor health report and
``--verify``.

The training saves in tests/fixtures/checkpoints were written with real torch, DeepSpeed and easydict by
make_containers.py beside them (how: its docstring); each holds a parity fixture's weights.
"""

import collections
import hashlib
import json
import logging
import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest
from absl import app
from checkpoint_files import tensor, write_safetensors, write_zip
from port_cases import (
    CHECKPOINTS,
    assert_matches_reference,
    cli,
    cli_in_process,
    convert_case,
    convert_state,
    fixture,
    max_diff,
    model_config,
    state,
)

from gesture_jax import models
from gesture_jax.infra import checkpointing
from gesture_jax.models import model_dir, viclip, vit
from gesture_jax.ports import convert, readers, verify

# (file, parity case, extra flags, the top-level key holding the weights)
TRAINING_SAVES = [
    ("videomae_v2_dev_pretrain_compiled.pth", "videomae_v2_dev_pretrain", [], "model"),
    ("umt_dev_native_deepspeed_raw.pt", "umt_dev_native", [], "module"),
    ("viclip_dev_train_easydict.pth", "viclip_dev", [], "model"),
    ("umt_dev_native_ema.pth", "umt_dev_native", ["--state_key=model_ema"], "model_ema"),
]


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _convert_cli(tmp_path, src, case, *flags):
    config_json = tmp_path / f"{case}.json"
    config_json.write_text(fixture(case)[0]["config"].item())
    dst = str(tmp_path / "out")
    family = fixture(case)[1]["family"]
    status, out = cli_in_process(
        f"--family={family}", f"--src={src}", f"--dst={dst}", f"--model_config={config_json}", *flags
    )
    return dst, status, out


@pytest.mark.slow_variants
@pytest.mark.parametrize("file, case, flags, state_key", TRAINING_SAVES, ids=[t[0] for t in TRAINING_SAVES])
def test_training_saves_convert_to_the_reference_model(tmp_path, file, case, flags, state_key):
    src = os.path.join(CHECKPOINTS, file)
    dst, status, out = _convert_cli(tmp_path, src, case, *flags)
    assert status == 0 and out.startswith(f"{src} -> {dst}: ") and f"from '{state_key}'" in out
    assert_matches_reference(case, dst)

    source = json.load(open(os.path.join(dst, "model.json")))["source"]
    assert source["sha256"] == _sha256(src) and source["sha256"] in out
    assert source["name"] == file and source["bytes"] == os.path.getsize(src)
    assert source["state_key"] == state_key and source["all_zero_tensors"] == []
    weights = readers.read_checkpoint(src)[state_key]
    if case == "videomae_v2_dev_pretrain":  # decoder keys dropped by rule once `_orig_mod.` is stripped
        unused = fixture(case)[1]["checkpoint"]["unused_keys_after_strip"]
        assert sorted(source["dropped_keys"]) == sorted("_orig_mod." + k for k in unused)
    else:
        assert source["dropped_keys"] == []

    status, out = cli_in_process("--verify", f"--src={src}", f"--dst={dst}")
    converted = len(weights) - len(source["dropped_keys"])
    assert status == 0
    assert out == f"OK: {converted} tensors of {src} equal {dst}/params exactly (sha256 matches)\n"


# ------------------------------------------------------------------------------------ which weight set


def test_several_weight_sets_default_rule_warning_and_state_key(tmp_path, caplog):
    src = os.path.join(CHECKPOINTS, "umt_dev_native_ema.pth")
    family, config = model_config("umt_dev_native")
    z, _ = fixture("umt_dev_native")
    with caplog.at_level(logging.WARNING):
        meta = convert.convert(family, src, str(tmp_path / "default"), model_config=config)
    (warning,) = [r.getMessage() for r in caplog.records if "state dicts" in r.getMessage()]
    assert (
        "2 state dicts, under ['model', 'model_ema']; using 'model'" in warning and "--state_key" in warning
    )
    assert meta["source"]["state_key"] == "model"
    model, _ = models.load(str(tmp_path / "default"))  # the raw weights, not the EMA the reference ran
    assert max_diff(model.features(jnp.asarray(z["video_bthwc"])), z["features"]) > 1e-2

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        meta = convert.convert(family, src, str(tmp_path / "ema"), model_config=config, state_key="model_ema")
    assert not [r for r in caplog.records if "state dicts" in r.getMessage()]  # chosen on purpose
    assert meta["source"]["state_key"] == "model_ema"
    assert_matches_reference("umt_dev_native", str(tmp_path / "ema"))

    with pytest.raises(convert.PortError, match=r"no state dict under 'ema'.*\['model', 'model_ema'\]"):
        convert.convert(family, src, str(tmp_path / "x"), model_config=config, state_key="ema")
    with pytest.raises(convert.PortError, match=r"no state dict under 'args'"):  # a Namespace, not weights
        convert.convert(family, src, str(tmp_path / "x"), model_config=config, state_key="args")


def test_one_weight_set_no_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        _, _, meta = convert_case("umt_dev_native", tmp_path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert meta["source"]["state_key"] == "module"
    tensors = state("videomae_v1_dev")
    assert convert_state(tmp_path, tensors)["source"]["state_key"] is None  # the file is the state dict


def test_raw_state_dict_pth_as_umt_releases_it(tmp_path):
    """UMT's released .pth files are bare state dicts (an OrderedDict of tensors, no 'model'/'module')."""
    raw = collections.OrderedDict(
        (k, tensor(np.ascontiguousarray(v), f"{i}"))
        for i, (k, v) in enumerate(state("umt_dev_interp").items())
    )
    src = write_zip(tmp_path / "b16_raw.pth", raw)
    family, config = model_config("umt_dev_interp")
    meta = convert.convert(family, src, str(tmp_path / "raw"), model_config=config)
    assert meta["source"]["state_key"] is None and meta["source"]["sha256"] == _sha256(src)
    assert_matches_reference("umt_dev_interp", str(tmp_path / "raw"))


# ------------------------------------------------------------------------------------------- prefixes


@pytest.mark.slow_variants
@pytest.mark.parametrize(
    "case, prefix",
    [
        ("videomae_v1_dev", "module._orig_mod."),
        ("videomae_v1_dev", "_orig_mod.module.backbone."),
        ("umt_dev_interp", "model.encoder."),
        ("videomae_v2_dev_pretrain", "module._orig_mod."),  # its keys are encoder.* and decoder.*
        ("viclip_dev", "module."),
        ("viclip_dev", "_orig_mod.model."),
        ("viclip_dev", "module.encoder."),
    ],
)
def test_nested_prefixes_for_every_family(tmp_path, case, prefix):
    meta = convert_state(tmp_path, {prefix + k: v for k, v in state(case).items()}, case=case)
    assert all(k.startswith(prefix) for k in meta["source"]["dropped_keys"])
    assert_matches_reference(case, str(tmp_path / "edited"))


def test_stripping_never_eats_a_real_name():
    for case in ("umt_dev_native", "umt_dev_interp", "videomae_v1_dev", "videomae_v2_dev", "viclip_dev"):
        keymap = convert.keymap_of(fixture(case)[1]["family"])
        assert all(keymap.strip(k) == k for k in state(case)), case
    assert viclip.KEYMAP.strip("encoder.vision_encoder.proj") == "vision_encoder.proj"
    assert vit.KEYMAP.strip("encoder_to_decoder.weight") == "encoder_to_decoder.weight"
    assert vit.KEYMAP.strip("module._orig_mod.encoder.blocks.0.norm1.weight") == "blocks.0.norm1.weight"
    dropped = vit.KEYMAP.strip("_orig_mod.decoder.blocks.0.mlp.fc1.weight")
    assert dropped == "decoder.blocks.0.mlp.fc1.weight" and vit.KEYMAP.is_dropped(dropped)


@pytest.mark.parametrize(
    "case, key, twin",
    [
        ("videomae_v1_dev", "fc_norm.weight", "module.fc_norm.weight"),
        ("videomae_v2_dev_pretrain", "decoder.norm.weight", "_orig_mod.decoder.norm.weight"),
        ("viclip_dev", "temp", "model.temp"),
    ],
)
def test_keys_that_strip_alike_are_an_error_naming_both(tmp_path, case, key, twin):
    tensors = state(case)
    tensors[twin] = tensors[key]
    with pytest.raises(convert.PortError, match=rf"'{key}' and '{twin}' both strip to '{key}'"):
        convert_state(tmp_path, tensors, case=case)


# ------------------------------------------------------------------------------------- tensor health


def test_non_finite_tensors_are_an_error_naming_each(tmp_path):
    tensors = state("videomae_v1_dev")
    tensors["blocks.0.attn.q_bias"][3] = np.nan
    tensors["blocks.1.mlp.fc1.weight"][:2, 0] = [np.inf, -np.inf]
    with pytest.raises(convert.PortError, match=r"non-finite values \(NaN/Inf\)") as info:
        convert_state(tmp_path, tensors)
    message = str(info.value)
    assert "blocks.0.attn.q_bias (1 of 32 values)" in message
    assert "blocks.1.mlp.fc1.weight (2 of 4096 values)" in message
    assert not os.path.exists(tmp_path / "edited")


def test_float64_beyond_float32_is_non_finite_once_cast(tmp_path):
    tensors = {k: v.astype(np.float64) for k, v in state("videomae_v1_dev").items()}
    tensors["head.bias"][0] = 1e300
    with pytest.raises(convert.PortError, match=r"head\.bias \(1 of 5 values\)"):
        convert_state(tmp_path, tensors, dtype="F64")


def test_only_converted_tensors_are_checked(tmp_path):
    tensors = state("videomae_v2_dev_pretrain")
    tensors["decoder.norm.weight"][:] = np.nan  # dropped by rule: never converted
    tensors["mask_token"][:] = 0.0
    meta = convert_state(tmp_path, tensors, case="videomae_v2_dev_pretrain")
    assert "decoder.norm.weight" in meta["source"]["dropped_keys"]
    assert meta["source"]["all_zero_tensors"] == []


def test_all_zero_tensors_are_warned_about_by_name(tmp_path, caplog):
    tensors = state("umt_dev_interp")
    for name in ("blocks.1.attn.q_bias", "blocks.1.attn.v_bias"):  # the silent failure of other ports
        tensors["module." + name] = np.zeros_like(tensors.pop(name))
    src = write_safetensors(tmp_path / "zeros.safetensors", {k: ("F32", v) for k, v in tensors.items()})
    with caplog.at_level(logging.WARNING):
        dst, status, out = _convert_cli(tmp_path, src, "umt_dev_interp")
    names = ["module.blocks.1.attn.q_bias", "module.blocks.1.attn.v_bias"]
    assert status == 0 and f"WARNING: all-zero tensors (check they are meant to be): {names}" in out
    (warning,) = [r.getMessage() for r in caplog.records if "all-zero" in r.getMessage()]
    assert str(names) in warning
    assert json.load(open(os.path.join(dst, "model.json")))["source"]["all_zero_tensors"] == names


# -------------------------------------------------------------------------------------------- --verify


def _rewrite_params(dst, edit):
    params_dir = os.path.join(dst, model_dir.PARAMS_DIR)
    params = checkpointing.load_params(params_dir)
    edit(params)
    shutil.rmtree(params_dir)
    checkpointing.save_params(params_dir, params)


@pytest.mark.slow
def test_verify_catches_a_one_ulp_change(tmp_path):
    src = os.path.join(CHECKPOINTS, "umt_dev_native_deepspeed_raw.pt")
    family, config = model_config("umt_dev_native")
    dst = str(tmp_path / "umt")
    convert.convert(family, src, dst, model_config=config)
    ok = cli("--verify", "--src", src, "--dst", dst)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 32 tensors of"), ok.stderr[-2000:]

    def one_ulp(params):
        q_bias = params["blocks.0.attn.q_bias"].copy()
        q_bias[5] = np.nextafter(q_bias[5], np.float32(np.inf))
        params["blocks.0.attn.q_bias"] = q_bias

    _rewrite_params(dst, one_ulp)
    bad = cli("--verify", "--src", src, "--dst", dst)
    assert bad.returncode == 1 and bad.stdout.startswith(f"MISMATCH: {src} vs {dst}/params (sha256 matches)")
    assert "1 tensors differ: blocks.0.attn.q_bias: 1 of 32 values differ, max |diff| " in bad.stdout
    assert len(bad.stdout.strip().splitlines()) == 1


def test_verify_checks_key_sets_and_the_file_hash(tmp_path):
    src = os.path.join(CHECKPOINTS, "videomae_v1_dev.pth")
    _, dst, meta = convert_case("videomae_v1_dev", tmp_path, drop_head=True)
    ok, line = verify.verify(src, dst)
    kept = len(readers.read_checkpoint(src)["model"]) - 2  # the head dropped, as model.json records
    assert ok and line.startswith(f"OK: {kept} tensors of")

    model_json = os.path.join(dst, "model.json")
    edited = json.load(open(model_json))
    edited["source"]["dropped_keys"] = ["head.weight", "norm.weight"]
    json.dump(edited, open(model_json, "w"))
    ok, line = verify.verify(src, dst)
    assert not ok and "source tensors missing from the converted params: ['head.bias']" in line
    assert "keys model.json records as dropped but the file lacks: ['norm.weight']" in line
    json.dump(meta, open(model_json, "w"))

    _rewrite_params(dst, lambda p: p.update({"head.bias": np.zeros(5, np.float32)}))
    ok, line = verify.verify(src, dst)
    assert not ok and "converted params without a source tensor: ['head.bias']" in line

    # A file with a key the family does not know, verified against a conversion without it.
    tensors = state("videomae_v1_dev")
    convert_state(tmp_path, tensors, name="plain")
    extra = write_safetensors(
        tmp_path / "extra.safetensors",
        {k: ("F32", v) for k, v in {**tensors, "extra.weight": tensors["head.bias"]}.items()},
    )
    ok, line = verify.verify(str(extra), str(tmp_path / "plain"))
    assert not ok and "source keys neither converted nor recorded as dropped: ['extra.weight']" in line

    # The same tensors in another file (the parity fixture vs DeepSpeed's save): only the hash differs.
    raw = os.path.join(CHECKPOINTS, "umt_dev_native_deepspeed_raw.pt")
    _, dst, _ = convert_case("umt_dev_native", tmp_path)
    ok, line = verify.verify(raw, dst)
    assert not ok and f"the file's sha256 is {_sha256(raw)}, model.json records" in line
    assert "differ:" not in line


def test_old_model_json_still_loads_and_verifies(tmp_path):
    """Files written before the provenance fields keep working (same format version)."""
    src = os.path.join(CHECKPOINTS, "videomae_v2_dev.pth")
    _, dst, meta = convert_case("videomae_v2_dev", tmp_path)
    for field in ("name", "sha256", "state_key", "drop_head", "all_zero_tensors"):
        del meta["source"][field]
    json.dump(meta, open(os.path.join(dst, "model.json"), "w"))
    models.load(dst)
    ok, line = verify.verify(src, dst)
    assert ok and line.endswith("exactly (sha256 not recorded in model.json)")


def test_verify_takes_only_src_and_dst(tmp_path):
    _, dst, _ = convert_case("videomae_v1_dev", tmp_path)
    src = os.path.join(CHECKPOINTS, "videomae_v1_dev.pth")
    with pytest.raises(app.UsageError, match="--family, --state_key come from model.json"):
        cli_in_process("--verify", f"--src={src}", f"--dst={dst}", "--family=umt", "--state_key=model")
    with pytest.raises(app.UsageError, match="--dst is required"):
        cli_in_process("--verify", f"--src={src}")
