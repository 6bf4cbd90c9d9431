"""Feature extraction's peak memory does not grow with the number of videos (checked at 10× size).

Each size runs in a fresh process (peak RSS is per process and only grows) on a source that makes its
records on the fly, so the only thing that scales with the split is what extraction itself keeps.
"""

import json
import subprocess
import sys

import pytest
from main_runs import ROOT

SCRIPT = r"""
import json, resource, sys
import numpy as np
import jax

import pytest
jax.config.update("jax_num_cpu_devices", 2)
from gesture_jax import models
from gesture_jax.features import extraction as features
from gesture_jax.infra import parallel
from gesture_jax.data import datasets, frames

num_records, cache_dir = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
jpegs = frames.encode_frames(rng.integers(0, 256, (12, 40, 48, 3), np.uint8))

class Source:  # a split of `num_records` videos whose records are made when read
    def __len__(self):
        return num_records
    def __getitem__(self, i):
        return {"frames": jpegs, "label": i % 7, "id": f"video_{i:06d}".encode()}

split = datasets.Split(datasets.SplitRef.parse("fake/memory:test"), Source(), tuple("abcdefg"), "1.0.0")
# 112² views (300 KB a video), so that holding on to a split's videos could not go unseen.
model, spec = models.create("toy-vit", model_overrides={"img_size": 112, "patch_size": 16})
spec = spec.replace(resize_size=112, crop_size=112)
extractor = features.Extractor(model, spec, parallel.make_mesh())
meta = {"encoder": "toy-vit", "dataset": "fake/memory", "split": "test", "n": num_records}
out = features.extract(extractor, split, cache_dir=cache_dir, meta=meta, per_device_batch=8, chunk_batches=4)
assert len(out) == num_records and out.ids[-1] == f"video_{num_records - 1:06d}"
print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _peak_rss_mib(num_records: int, cache_dir) -> float:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(num_records), str(cache_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_rss_mib"]


@pytest.mark.slow
def test_extraction_peak_rss_does_not_grow_with_dataset_size(tmp_path):
    small = _peak_rss_mib(64, tmp_path / "small")
    large = _peak_rss_mib(640, tmp_path / "large")
    # Per video, extraction keeps a 64-float feature, a label and an id: ~0.5 MiB for 640 videos; measured
    # here: +8 MiB in all (allocator and thread pools). Keeping the decoded videos would add ~180 MiB.
    assert large < small + 40, f"peak RSS {small:.0f} MiB for 64 videos, {large:.0f} MiB for 640"
