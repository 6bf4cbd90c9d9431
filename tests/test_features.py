"""Feature extraction: identical on 1 and 8 devices, padded last batch, cached, resumable."""

import hashlib
import json
import os

import jax
import numpy as np
import pytest

from gesture_jax import models
from gesture_jax.data import datasets, pipeline
from gesture_jax.features import extraction as features
from gesture_jax.infra import parallel
from gesture_jax.models import layers

SPLIT = "toy_gestures/real_small:test"  # 21 videos: never a multiple of the global batch below


def _extract(data_dir, cache_dir, num_devices, *, spec_overrides=None, chunk_batches=50, **kwargs):
    model, spec = models.create("toy-vit", seed=0)
    if spec_overrides:
        spec = spec.replace(**spec_overrides)
    extractor = features.Extractor(model, spec, parallel.make_mesh(jax.devices()[:num_devices]))
    split = datasets.open_split(SPLIT, data_dir)
    meta = {
        "encoder": "toy-vit",
        "dataset": split.ref.dataset,
        "split": split.ref.split,
        "spec": spec.to_dict(),
        **kwargs,
    }
    return (
        features.extract(
            extractor,
            split,
            cache_dir=cache_dir,
            meta=meta,
            per_device_batch=2,
            chunk_batches=chunk_batches,
            num_threads=2,
        ),
        extractor,
        split,
    )


@pytest.mark.slow_variants
@pytest.mark.parametrize("token_chunk", [None, 16])
def test_same_features_on_1_and_8_devices(toy_data_dir, tmp_path, monkeypatch, token_chunk):
    """Also with the CPU token chunking on (16 tokens a chunk: the toy encoder's tokens are too few for
    the default), which must chunk each device's share alike."""
    if token_chunk:
        monkeypatch.setattr(layers, "CPU_TOKEN_CHUNK", token_chunk)
    one, _, split = _extract(toy_data_dir, str(tmp_path / "a"), 1)
    eight, _, _ = _extract(toy_data_dir, str(tmp_path / "b"), 8)
    assert one.vectors.shape == (len(split), 64)
    np.testing.assert_array_equal(one.vectors, eight.vectors)  # bit-identical, not just close
    np.testing.assert_array_equal(one.labels, eight.labels)
    np.testing.assert_array_equal(one.ids, eight.ids)
    # Row i is record i of the split, in order.
    assert [split.source[i]["id"].decode() for i in range(len(split))] == one.ids.tolist()
    assert [split.source[i]["label"] for i in range(len(split))] == one.labels.tolist()
    assert len(set(one.ids.tolist())) == len(split)


def test_features_match_a_direct_forward_pass(toy_data_dir, tmp_path):
    feats, extractor, split = _extract(toy_data_dir, str(tmp_path), 8)
    model, spec = models.create("toy-vit", seed=0)
    record = split.source[5]
    video = pipeline.clip_views(record, spec)[0]  # [T, S, S, 3] uint8, one view
    x = (video.astype(np.float32) / 255.0 - np.float32(spec.mean)) / np.float32(spec.std)
    expected = np.asarray(model.features(x[None]))[0]
    np.testing.assert_allclose(feats.vectors[5], expected, atol=1e-5)


@pytest.mark.slow
def test_multi_view_features_average_the_views(toy_data_dir, tmp_path):
    overrides = dict(
        num_clips=2,
        sampler="umt_sparse_test",
        sampler_params=(("test_num_segment", 2),),
        crop="three",
        resize_size=32,
        crop_size=32,
    )
    feats, _, split = _extract(toy_data_dir, str(tmp_path), 8, spec_overrides=overrides)
    model, spec = models.create("toy-vit", seed=0)
    spec = spec.replace(**overrides)
    views = pipeline.clip_views(split.source[3], spec)
    assert views.shape == (2 * 3, 8, 32, 32, 3)  # clips × crops
    x = (views.astype(np.float32) / 255.0 - np.float32(spec.mean)) / np.float32(spec.std)
    np.testing.assert_allclose(feats.vectors[3], np.asarray(model.features(x)).mean(0), atol=1e-5)


def test_manifest_says_what_produced_the_features(toy_data_dir, tmp_path):
    overrides = dict(num_clips=2, sampler="umt_sparse_test", crop="three", resize_size=32, crop_size=32)
    cache = tmp_path / "cache"
    feats, _, split = _extract(toy_data_dir, str(cache), 8, spec_overrides=overrides, dtype="float32")
    (entry,) = cache.iterdir()
    manifest = json.loads((entry / features.MANIFEST_FILE).read_text())
    assert manifest == {
        "count": len(split),
        "feature_dim": 64,
        "encoder": "toy-vit",
        "dtype": "float32",
        "pooling": "fc_norm(mean of the final tokens)",
        "frames": 8,
        "sampler": "umt_sparse_test",
        "sampler_params": {"num_frames": 8, "test_num_segment": 2},
        "temporal_clips": 2,
        "resize": "short_side",
        "resize_size": 32,
        "crop": "three",
        "crop_size": 32,
        "views": 6,
        "views_pooled": "mean of the views' outputs",
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "dataset": "toy_gestures/real_small",
        "dataset_version": None,  # this test's cache key has no version; the run context's does
        "split": "test",
        "features_file": "features.npz",
        "cache_key": json.loads((entry / features.META_FILE).read_text()),
    }
    # An entry cached before manifests existed gets one on its next use.
    (entry / features.MANIFEST_FILE).unlink()
    _extract(toy_data_dir, str(cache), 8, spec_overrides=overrides, dtype="float32")
    assert json.loads((entry / features.MANIFEST_FILE).read_text()) == manifest


def test_manifest_of_a_converted_checkpoint_names_its_source_file(toy_data_dir, tmp_path):
    """Through the run context, as every mode extracts: the checkpoint's source file, its sha256 and the
    family's own protocol (UMT: 4 clips × 3 crops) are in the manifest."""
    from gesture_jax import config_lib
    from gesture_jax.evaluation import run_context
    from gesture_jax.ports import convert

    src = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoints", "umt_dev_interp.pth")
    with np.load(os.path.join(os.path.dirname(__file__), "fixtures", "models", "umt_dev_interp.npz")) as z:
        model_config = convert.model_config_from_json("umt", json.loads(z["config"].item()))
    dst = str(tmp_path / "umt_dev_interp")
    convert.convert("umt", src, dst, model_config=model_config)
    config = config_lib.load_file("configs/demo.py:smoke")
    with config.unlocked():
        config.data.data_dir = toy_data_dir
        config.encoder.name, config.encoder.checkpoint = "umt-b16", dst
        config.extract.per_device_batch = 2
    run_context.RunContext.create(config, str(tmp_path / "run")).vectors([SPLIT])
    (entry,) = (tmp_path / "run" / "features").iterdir()
    manifest = json.loads((entry / features.MANIFEST_FILE).read_text())
    with open(src, "rb") as f:
        sha256 = hashlib.file_digest(f, "sha256").hexdigest()
    assert manifest["weights"] == {
        "checkpoint_dir": dst,
        "source_file": "umt_dev_interp.pth",
        "source_bytes": os.path.getsize(src),
        "source_sha256": sha256,
        "model_json_sha256": manifest["cache_key"]["checkpoint"],
    }
    assert (manifest["encoder"], manifest["frames"], manifest["sampler"], manifest["views"]) == (
        "umt-b16",
        4,
        "umt_sparse_test",
        12,
    )
    assert manifest["dataset_version"] == datasets.builder("toy_gestures/real_small", toy_data_dir).version
    assert manifest["count"] == 21 and manifest["feature_dim"] == 32


def test_cached_and_resumed(toy_data_dir, tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    reference, _, _ = _extract(toy_data_dir, str(tmp_path / "ref"), 8, chunk_batches=1)

    calls = {"n": 0}
    original = features.Extractor.__call__

    def dies_after_one_chunk(self, batch):
        calls["n"] += 1
        if calls["n"] > 1:
            raise KeyboardInterrupt("simulated kill")
        return original(self, batch)

    monkeypatch.setattr(features.Extractor, "__call__", dies_after_one_chunk)
    with pytest.raises(KeyboardInterrupt):
        _extract(toy_data_dir, cache, 8, chunk_batches=1)
    (entry,) = os.listdir(cache)
    assert sorted(os.listdir(os.path.join(cache, entry, "parts"))) == ["00000.npz", "layout.json"]
    assert not os.path.exists(os.path.join(cache, entry, features.FEATURES_FILE))

    calls["n"] = -100  # let the resumed run through, counting its steps
    resumed, _, _ = _extract(toy_data_dir, cache, 8, chunk_batches=1)
    assert calls["n"] == -100 + 1  # 21 videos / 16 per batch = 2 batches; 1 was done before the kill
    np.testing.assert_array_equal(resumed.vectors, reference.vectors)
    assert not os.path.exists(os.path.join(cache, entry, "parts"))

    calls["n"] = -100
    cached, _, _ = _extract(toy_data_dir, cache, 8, chunk_batches=1)
    assert calls["n"] == -100  # served from the cache, nothing recomputed
    np.testing.assert_array_equal(cached.vectors, reference.vectors)


def test_resume_ignores_parts_of_another_layout(toy_data_dir, tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    calls = {"n": 0}
    original = features.Extractor.__call__

    def counting(self, batch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated kill")
        return original(self, batch)

    monkeypatch.setattr(features.Extractor, "__call__", counting)
    with pytest.raises(KeyboardInterrupt):
        _extract(toy_data_dir, cache, 8, chunk_batches=1)  # leaves part 0 of a 1-batch-chunk layout
    calls["n"] = 10
    resumed, _, _ = _extract(toy_data_dir, cache, 8, chunk_batches=2)
    assert calls["n"] == 10 + 2  # both batches recomputed: the old part had other chunk boundaries
    reference, _, _ = _extract(toy_data_dir, str(tmp_path / "ref"), 8)
    np.testing.assert_array_equal(resumed.vectors, reference.vectors)


def test_cache_key_covers_the_spec():
    base = {"encoder": "toy-vit", "dataset": "d/c", "split": "test", "spec": {"num_frames": 8}}
    other = {**base, "spec": {"num_frames": 16}}
    assert features.cache_name(base) != features.cache_name(other)
    assert features.cache_name(base) == features.cache_name(dict(reversed(list(base.items()))))


def test_spec_errors_surface_before_any_work():
    model, spec = models.create("toy-vit", seed=0)
    with pytest.raises(ValueError, match="clip"):
        features.Extractor(model, spec.replace(num_clips=2), parallel.make_mesh())
    with pytest.raises(ValueError, match="unknown frame sampler|unknown rule|'nope'"):
        features.Extractor(model, spec.replace(sampler="nope"), parallel.make_mesh())


def test_a_subset_of_vectors_by_positions_or_mask():
    v = features.VideoVectors(
        np.arange(8, dtype=np.float32).reshape(4, 2), np.array([0, 1, 0, 1]), np.array(list("abcd"))
    )
    by_positions = v.take(np.array([2, 0]))
    assert by_positions.ids.tolist() == ["c", "a"] and by_positions.vectors.tolist() == [[4, 5], [0, 1]]
    by_mask = v.take(v.labels == 1)
    assert by_mask.ids.tolist() == ["b", "d"] and by_mask.labels.tolist() == [1, 1] and len(by_mask) == 2


def test_an_extractor_gives_back_the_model_it_computes_with():
    """`Extractor.model` (an encoder state's weights, for evaluators that need more than its features)
    follows `set_model`."""
    model, spec = models.create("toy-vit", seed=0)
    other, _ = models.create("toy-vit", seed=1)
    extractor = features.Extractor(model, spec, parallel.make_mesh(jax.devices()[:1]))
    video = jax.numpy.zeros((1, spec.num_frames, spec.crop_size, spec.crop_size, 3))
    np.testing.assert_allclose(extractor.model.features(video), model.features(video), atol=1e-6)
    extractor.set_model(other)
    np.testing.assert_allclose(extractor.model.features(video), other.features(video), atol=1e-6)
