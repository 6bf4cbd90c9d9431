"""The benchmark scripts run as documented and print their figures and ratios (tiny sizes, CPU).

Their speed is not checked here (timed tests measure the CI machine, not the code); the README records
what full-size runs measured. The PyTorch side of bench/extract_vs_torch.py needs requirements-bench.txt,
so here it runs its JAX side alone.
"""

import json
import os
import re
import subprocess
import sys

import pytest
from main_runs import ROOT


def _bench(script: str, *args: str, timeout: int = 300) -> str:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}
    cmd = [sys.executable, os.path.join(ROOT, "bench", script), *args]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_linear_probe_bench():
    """Both forms of the fit report their L-BFGS iterations and the ratio; our weights agree with
    scikit-learn's minimiser of the same objective."""
    out = _bench("linear_probe.py", "--rows", "30", "--dim", "8", "--repeats", "1")
    steps = re.findall(r"^(?:ours \(lax.map over λ\)|vmapped over λ) .*s  \[([\d, ]+)\]$", out, re.M)
    assert len(steps) == 2 and all(len(s.split(", ")) == 4 for s in steps), out
    assert re.search(r"^vmapped over λ / ours: [\d.]+× \[", out, re.M)
    diffs = out.split("per λ: ")[1].split(", ")
    assert len(diffs) == 4 and all(float(d) < 0.1 for d in diffs), out


@pytest.mark.slow
def test_knn_bench(tmp_path):
    out = _bench(
        "knn.py",
        "--gallery",
        "3000",
        "--queries",
        "50",
        "--dim",
        "32",
        "--repeats",
        "1",
        "--json",
        str(tmp_path / "knn.json"),
    )
    assert "predictions equal to scikit-learn's: 100.00%" in out
    assert re.search(r"speed-up over scikit-learn: [\d.]+x", out)
    assert re.search(r"time / bare matmul\+top_k: [\d.]+x", out)
    figures = json.loads((tmp_path / "knn.json").read_text())
    assert figures["agreement"] == 1.0 and figures["results"]["gesture_jax knn_classify"]["gflops"] > 0


@pytest.mark.slow
def test_input_pipeline_bench(tmp_path):
    out = _bench(
        "input_pipeline.py",
        "--videos",
        "3",
        "--frames",
        "20",
        "--height",
        "96",
        "--width",
        "128",
        "--repeats",
        "1",
        "--json",
        str(tmp_path / "input.json"),
    )
    assert re.search(r"grain over TFDS +[\d.]+ clips/s per core", out)
    assert re.search(r"PyAV decode of mp4 +[\d.]+ clips/s per core", out)
    assert json.loads((tmp_path / "input.json").read_text())["ratio"] > 0


@pytest.mark.slow
def test_extraction_bench_jax_side(tmp_path):
    out = _bench(
        "extract_vs_torch.py",
        "--model",
        "tiny",
        "--batch",
        "2",
        "--pairs",
        "2",
        "--threads",
        "1",
        "--sides",
        "jax",
        "--json",
        str(tmp_path / "extract.json"),
    )
    assert re.search(r"jax +[\d.]+ +\d+ +JAX", out)
    assert json.loads((tmp_path / "extract.json").read_text())["jax"]["clips_per_s"] > 0


def test_extraction_bench_maps_transformers_keys_to_the_official_layout():
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import extract_vs_torch
    import numpy as np

    hf = {
        "embeddings.patch_embeddings.projection.weight": np.zeros((8, 3, 2, 4, 4)),
        "embeddings.patch_embeddings.projection.bias": np.zeros(8),
    }
    for n in ("query", "key", "value"):
        hf[f"encoder.layer.0.attention.attention.{n}.weight"] = np.full((8, 8), len(n))
    hf["encoder.layer.0.attention.attention.query.bias"] = np.ones(8)
    hf["encoder.layer.0.attention.attention.value.bias"] = np.ones(8)
    for theirs in (
        "attention.output.dense",
        "intermediate.dense",
        "output.dense",
        "layernorm_before",
        "layernorm_after",
    ):
        hf[f"encoder.layer.0.{theirs}.weight"] = np.zeros(8)
        hf[f"encoder.layer.0.{theirs}.bias"] = np.zeros(8)
    ours = extract_vs_torch.official_state_dict(hf)
    assert ours["blocks.0.attn.qkv.weight"].shape == (24, 8)
    np.testing.assert_array_equal(ours["blocks.0.attn.qkv.weight"][:, 0], [5] * 8 + [3] * 8 + [5] * 8)
    assert {
        "patch_embed.proj.weight",
        "blocks.0.attn.q_bias",
        "blocks.0.mlp.fc2.bias",
        "blocks.0.norm2.weight",
        "fc_norm.weight",
    } <= set(ours)
    assert len(ours) == 2 + 1 + 2 + 5 * 2 + 2


@pytest.mark.slow
def test_gpu_bench_runs_on_cpu():
    out = _bench(
        "gpu.py",
        *("--encoder", "toy-vit", "--batch", "2", "--steps", "1", "--impls", "auto,einsum"),
        *("--profile", "--transfer", "--families", "toy-vit"),
        # One case, with a text tower (the port kit checks every case at 1e-5 and in bfloat16).
        *("--parity_cases", "viclip_dev"),
    )
    parity = [json.loads(line.split(" ", 1)[1]) for line in out.splitlines() if line.startswith("parity ")]
    assert [r["case"] for r in parity] == ["viclip_dev"]
    assert "scores_float32" in parity[0] and parity[0]["scores_float32"] < 1e-4
    assert all(r["features_float32"] < 1e-4 for r in parity)
    assert all(r["features_bfloat16"] < 0.05 for r in parity)
    assert "auto, batch 2: " in out and "einsum, batch 2: " in out and "MFU n/a" in out and "best: " in out
    rows = {kind: [] for kind in ("kernel", "transfer", "family")}
    for line in out.splitlines():
        kind, _, rest = line.partition(" ")
        if kind in rows:
            rows[kind].append(json.loads(rest))
    assert rows["kernel"] and all(r["ms_per_call"] >= 0 and 0 <= r["share"] <= 1 for r in rows["kernel"])
    assert sum(r["share"] for r in rows["kernel"]) <= 1.0001
    assert rows["transfer"][0]["batch"] == 2 and rows["transfer"][0]["clips_per_s"] > 0
    assert rows["family"][0]["encoder"] == "toy-vit" and rows["family"][0]["clips_per_s"] > 0
