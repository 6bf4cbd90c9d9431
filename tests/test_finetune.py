"""Fine-tuning: optimiser pieces, a linear probe that learns, the unseen-class protocol, checkpoints that
are kept by rule, and a run killed with SIGKILL that ends exactly where an uninterrupted one ends."""

import json
import os
import signal
import time

import numpy as np
import pytest
from main_runs import run_main, start_main
from mode_cases import CASES, as_flags

from gesture_jax import config_lib
from gesture_jax.evaluation import report
from gesture_jax.infra import checkpointing
from gesture_jax.modes import finetune
from gesture_jax.train import optim


def _params():
    names = [
        "encoder/patch_embed/proj/kernel",
        "encoder/blocks/0/mlp/fc1/kernel",
        "encoder/blocks/1/mlp/fc1/bias",
        "encoder/fc_norm/scale",
        "head/kernel",
    ]
    return {n: np.ones((2, 2) if n.endswith("kernel") else (2,), np.float32) for n in names}


def _depth(path):  # a depth-2 ViT: embeddings 0, blocks 1..2, top 3
    return (
        {"patch_embed": 0, "blocks": None, "fc_norm": 3}[path[0]] if path[0] != "blocks" else int(path[1]) + 1
    )


def test_layer_wise_lr_decay():
    config = optim.OptimConfig(
        learning_rate=1.0, warmup_steps=0, total_steps=10, weight_decay=0.0, layer_decay=0.5, clip_norm=0.0
    )
    params = _params()
    tx = optim.make(config, params, _depth, layers=4)
    grads = {n: np.full_like(v, 0.3) for n, v in params.items()}
    updates, _ = tx.update(grads, tx.init(params), params)
    # Adam's first step is ±lr; layer decay scales it by 0.5^(3 - depth); the head gets the full rate.
    expected = {
        "encoder/patch_embed/proj/kernel": 0.125,
        "encoder/blocks/0/mlp/fc1/kernel": 0.25,
        "encoder/blocks/1/mlp/fc1/bias": 0.5,
        "encoder/fc_norm/scale": 1.0,
        "head/kernel": 1.0,
    }
    for name, scale in expected.items():
        np.testing.assert_allclose(np.asarray(updates[name]), -scale, rtol=1e-4)


def test_schedule_warmup_then_cosine():
    schedule = optim.schedule(
        optim.OptimConfig(learning_rate=1.0, min_learning_rate=0.1, warmup_steps=10, total_steps=110)
    )
    assert float(schedule(0)) == 0.0 and float(schedule(5)) == pytest.approx(0.5)
    assert float(schedule(10)) == pytest.approx(1.0)
    assert float(schedule(60)) == pytest.approx(0.55, abs=1e-3)  # half-way down the cosine
    assert float(schedule(110)) == pytest.approx(0.1)


def test_weight_decay_mask_and_accumulation():
    assert optim.decays(("encoder", "blocks", 0, "mlp", "fc1", "kernel"), np.ones((2, 2)))
    assert not optim.decays(("encoder", "fc_norm", "scale"), np.ones(2))
    assert not optim.decays(("encoder", "pos_embed"), np.ones((1, 4, 2)))
    assert not optim.decays(("encoder", "vision", "class_embedding"), np.ones((2, 2)))
    config = optim.OptimConfig(accum_steps=2, warmup_steps=0, total_steps=5)
    tx = optim.make(config, _params(), _depth, layers=4)
    state = tx.init(_params())
    updates, state = tx.update({n: np.ones_like(v) for n, v in _params().items()}, state, _params())
    assert all(not np.asarray(u).any() for u in updates.values())  # first micro-step: no update yet


@pytest.mark.parametrize(
    "strategy, trained",
    [
        ("linear_probe", {"head"}),
        ("last_blocks", {"head", "top", "block1"}),
        ("full", {"head", "top", "block1", "block0", "embed"}),
    ],
)
def test_strategies(strategy, trained):
    paths = {
        "head": (("head", "kernel"), None),
        "top": (("encoder", "fc_norm", "scale"), 3),
        "block1": (("encoder", "blocks", 1, "mlp"), 2),
        "block0": (("encoder", "blocks", 0, "mlp"), 1),
        "embed": (("encoder", "patch_embed"), 0),
    }
    got = {
        n for n, (p, d) in paths.items() if optim.trainable(p, d, strategy=strategy, last_blocks=1, layers=4)
    }
    assert got == trained


def _smoke_config(toy_data_dir, **finetune_overrides):
    """The smoke config on global batches of 16 clips (2 on each of the 8 test devices)."""
    config = config_lib.load_file("configs/demo_finetune.py:smoke")
    with config.unlocked():
        config.data.data_dir = toy_data_dir
        config.finetune.update({"batch_per_device": 2, **finetune_overrides})
    return config


@pytest.mark.slow
def test_linear_probe_learns_and_leaves_the_encoder_alone(toy_data_dir, tmp_path):
    config = _smoke_config(
        toy_data_dir,
        strategy="linear_probe",
        learning_rate=3e-2,
        warmup_steps=0,
        num_steps=12,
        checkpoint_every=12,
        val_split="toy_gestures/synthetic_small:train",
        label_smoothing=0.0,
    )
    with config.unlocked():
        for key in ("brightness", "contrast", "saturation", "hue"):
            config.finetune.augment[key] = 0.0
        config.finetune.augment.crop_scale = (1.0, 1.0)
    rows = [report.row_json(r) for r in finetune.run(config, str(tmp_path))]
    head = next(
        r
        for r in rows
        if r["gallery"] == "classifier head" and r["queries"].endswith("synthetic_small:train")
    )
    assert head["accuracy"] > 2 / 7  # well above chance (1/7) on its own training videos
    knn = {(r["encoder_state"] == "frozen", r["gallery"]): r["accuracy"] for r in rows if r.get("k")}
    for gallery in ("toy_gestures/synthetic_small:train", "toy_gestures/real_small:train"):
        assert knn[(True, gallery)] == knn[(False, gallery)]  # a frozen encoder gives the same features
    log = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    losses = [r["train/loss"] for r in log if "train/loss" in r]
    assert losses[-1] < losses[0]
    assert os.listdir(tmp_path / "tensorboard")


@pytest.mark.slow
def test_unseen_smoke_reports_seen_novel_and_interpolation(toy_data_dir, tmp_path):
    """The contract config as a user runs it (6 of its 24 steps: what it reports does not depend on how
    many): base-to-novel rows for the frozen, interpolated and fine-tuned encoders, the harmonic means
    with intervals, the α plot; the checkpoints are untouched by the interpolation."""
    result = run_main(
        "configs/demo_finetune.py:unseen_smoke",
        tmp_path,
        f"--config.data.data_dir={toy_data_dir}",
        "--config.finetune.num_steps=6",
        "--config.finetune.checkpoint_every=3",
        devices=1,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    body = json.loads((tmp_path / "results.json").read_text())
    rows = body["rows"]
    states = {(r["encoder_state"], r["alpha"]) for r in rows}
    assert states == {("frozen", 0.0), ("interpolated", 0.5), ("fine-tuned", 1.0)}
    assert {r["class_subset"] for r in rows} == {"seen", "novel"}
    for row in rows:
        seen = row["class_subset"] == "seen"
        classes = (0, 1, 3, 4, 6) if seen else (2, 5)
        # each subset's queries and predictions stay within its own classes
        others = [c for c in range(7) if c not in classes]
        assert (
            sum(row["confusion"][a][b] for a in range(7) for b in range(7) if a in others or b in others) == 0
        )
        if row["queries"].startswith("toy_gestures/real_small:test"):
            assert row["num_queries"] == (15 if seen else 6)  # 3 real test videos per class
    methods = {(r["method"], r["class_subset"]) for r in rows}
    assert {("knn", "seen"), ("knn", "novel"), ("prototype", "novel"), ("linear_probe", "novel")} <= methods
    assert ("head", "novel") not in methods and ("head", "seen") in methods
    assert {r["shots"] for r in rows if "shots" in r} == {1}  # the 1-shot draws; "all" is the plain row

    entries = body["harmonic_mean"]
    assert {(e["encoder_state"], e["alpha"]) for e in entries} == states
    by_id = {r["id"]: r for r in rows}
    for e in entries:
        assert set(e) >= {"encoder_state", "alpha", "seen", "novel", "harmonic_mean"}
        seen, novel = by_id[e["seen_row"]], by_id[e["novel_row"]]
        assert (seen["class_subset"], novel["class_subset"]) == ("seen", "novel")
        assert e["seen"] == seen["accuracy"] and e["novel"] == novel["accuracy"]
        s, n = e["seen"], e["novel"]
        assert e["harmonic_mean"] == pytest.approx(2 * s * n / (s + n) if s + n else 0.0)
        lo, hi = e["harmonic_mean_ci95"]
        assert lo <= e["harmonic_mean"] <= hi
    assert (tmp_path / "interpolation.png").stat().st_size > 10_000
    md = (tmp_path / "results.md").read_text()
    assert "Seen vs novel classes" in md and "interpolated, α=0.5" in md
    final = json.loads((tmp_path / finetune.FINAL_JSON).read_text())
    assert final["harmonic_mean"] and final["step"] == 6


def _has_checkpoint(directory) -> bool:
    return directory.exists() and any(name.isdigit() for name in os.listdir(directory))


@pytest.mark.slow
@pytest.mark.uses_mode("finetune")
def test_killed_run_resumes_to_the_same_end(mode_runs, tmp_path):
    """The mode kit's fine-tuning run on one device (8 steps, a checkpoint every 2) as the reference: the
    same command killed with SIGKILL after its first checkpoint, then run again in its workdir, ends on
    the same final.json. One device: on a 2-core machine 8 fake devices make training ~3× slower; a
    restart on 8 devices (sharded Orbax restore, same training loop) is the kit's rerun test."""
    case, reference = CASES["finetune"], mode_runs.one_device("finetune")
    expected = json.load(open(os.path.join(reference.workdir, finetune.FINAL_JSON)))
    steps = checkpointing.TrainCheckpoints(
        os.path.join(reference.workdir, "checkpoints"), keep=3, best_metric="val_accuracy"
    ).steps
    assert steps[-3:] == [4, 6, 8] and len(steps) <= 4  # the latest 3 (+ the best on val)

    flags = as_flags({**reference.fields, **dict(case.one_device)})
    killed = tmp_path / "killed"
    process = start_main(case.config, killed, *flags, devices=1)
    deadline = time.time() + 300
    while time.time() < deadline and not _has_checkpoint(killed / "checkpoints"):
        time.sleep(0.1)
    time.sleep(0.5)  # somewhere in the steps after it, maybe during the next write
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / finetune.FINAL_JSON).exists()  # killed before the end
    result = run_main(case.config, killed, *flags, devices=1, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from the checkpoint at step" in result.stderr
    assert json.load(open(killed / finetune.FINAL_JSON)) == expected


@pytest.mark.slow
def test_other_families_strategies_and_bfloat16(toy_data_dir, tmp_path):
    """ViCLIP fine-tunes its vision tower's last block and top in bfloat16; its text tower stays frozen."""
    config = _smoke_config(
        toy_data_dir, strategy="last_blocks", last_blocks=1, num_steps=4, checkpoint_every=4
    )
    with config.unlocked():
        config.encoder = config_lib.encoder("toy-viclip", dtype="bfloat16")
    rows = [report.row_json(r) for r in finetune.run(config, str(tmp_path))]
    assert {r["encoder_state"] for r in rows} == {"frozen", "fine-tuned"}
    assert {r.get("fine_tuned_on") for r in rows} == {None, "toy_gestures/synthetic_small:train"}
    final = json.load(open(tmp_path / finetune.FINAL_JSON))
    assert final["step"] == 4 and len(final["params_checksum"]) == 64
