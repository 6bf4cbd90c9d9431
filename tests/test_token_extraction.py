"""Token extraction into the store: the tokens the model gives, every view kept, pooled by each family's
layout, keyed and described like the vectors, identical on 1 and 8 devices, resumed after a kill."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gesture_jax import models
from gesture_jax.data import datasets, pipeline
from gesture_jax.features import extraction, token_extraction, token_store
from gesture_jax.infra import parallel
from gesture_jax.models import token_layout

SPLIT = "toy_gestures/real_small:test"  # 21 videos


def _tokens(data_dir, cache_dir, num_devices=1, *, recipe=None, spec_overrides=None):
    model, spec = models.create("toy-vit", seed=0)
    spec = spec.replace(**(spec_overrides or {}))
    recipe = recipe or token_extraction.TokenRecipe(dtype="float32")
    extractor = extraction.Extractor(
        model,
        spec,
        parallel.make_mesh(jax.devices()[:num_devices]),
        output=lambda m, x: token_layout.recipe_tokens(m, x, recipe.layers, recipe.pool),
        output_name=recipe.describe(),
        keep_views=recipe.dtype,
    )
    split = datasets.open_split(SPLIT, data_dir)
    meta = {"encoder": "toy-vit", "dataset": split.ref.dataset, "split": split.ref.split, **recipe.key()}
    store = token_extraction.extract_tokens(
        extractor, split, cache_dir=cache_dir, meta=meta, per_device_batch=2, num_threads=2
    )
    return store, model, spec, split


def _direct(model, spec, split, layers=None):
    """The tokens computed here, one batch of every record, without the store."""
    (batch,) = pipeline.eval_batches(
        split.source, spec, global_batch=len(split), row_start=0, rows=len(split)
    )
    video = batch["video"]  # [N, V, T, S, S, 3]
    n, v = video.shape[:2]
    x = pipeline.normalize_on_device(jnp.asarray(video.reshape(n * v, *video.shape[2:])), spec)
    out = model.tokens(x, layers) if layers else model.tokens(x)[None]
    return np.asarray(jnp.moveaxis(out, 0, 1)).reshape(n, v, *out.shape[0:1], *out.shape[2:])


def test_the_store_holds_the_models_tokens_and_a_manifest(toy_data_dir, tmp_path):
    store, model, spec, split = _tokens(toy_data_dir, str(tmp_path))
    assert len(store) == len(split) and store.shape == (1, 1, 256, 64) and store.dtype == "float32"
    got = np.concatenate([b.tokens for b in store.batches(8)])
    np.testing.assert_allclose(got, _direct(model, spec, split), atol=1e-5)
    labels, ids = store.index()
    (batch,) = pipeline.eval_batches(split.source, spec, global_batch=21, row_start=0, rows=21)
    np.testing.assert_array_equal(labels, batch["label"])
    np.testing.assert_array_equal(ids, pipeline.decode_ids(batch["id"]))
    (entry,) = os.listdir(tmp_path)
    manifest = json.loads((tmp_path / entry / "manifest.json").read_text())
    assert manifest["token_shape"] == {"views": 1, "layers": 1, "tokens": 256, "channels": 64}
    assert manifest["bytes_per_video"] == 256 * 64 * 4 and manifest["count"] == 21
    assert manifest["cache_key"]["tokens"] == {"layers": [], "pool": [1, 1], "dtype": "float32"}
    assert "every view kept" in manifest["pooling"]
    # Cached: a second call reads the store without extracting.
    again, *_ = _tokens(toy_data_dir, str(tmp_path))
    assert again == store


def test_views_layers_pooling_and_float16(toy_data_dir, tmp_path):
    recipe = token_extraction.TokenRecipe(layers=(0, 1), pool=(2, 2), dtype="float16")
    store, model, spec, split = _tokens(
        toy_data_dir, str(tmp_path), recipe=recipe, spec_overrides={"crop": "three"}
    )
    assert store.shape == (3, 2, 4 * 4 * 4, 64) and store.dtype == "float16"
    assert store.bytes_per_video == 3 * 2 * 64 * 64 * 2
    direct = _direct(model, spec, split, layers=[0, 1])  # [N, V, L, 256, D]
    t, h, w = 4, 8, 8
    grid = direct.reshape(*direct.shape[:3], t, h // 2, 2, w // 2, 2, 64).mean(axis=(5, 7))
    got = np.concatenate([b.tokens for b in store.batches(5)])
    np.testing.assert_allclose(got, grid.reshape(got.shape), atol=2e-2, rtol=1e-2)  # float16 storage


def test_same_tokens_on_1_and_8_devices(toy_data_dir, tmp_path):
    one, *_ = _tokens(toy_data_dir, str(tmp_path / "a"), 1)
    eight, *_ = _tokens(toy_data_dir, str(tmp_path / "b"), 8)
    np.testing.assert_array_equal(one.take(np.arange(21)), eight.take(np.arange(21)))


def test_a_killed_extraction_resumes_at_its_first_missing_part(toy_data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(token_extraction, "PART_BYTES", 4 * 256 * 64 * 4)  # 2 batches of 2 a part
    written = []
    real_write = token_store.write_part

    def dies_after_two(folder, part, *args, **kwargs):
        if len(written) == 2:
            raise KeyboardInterrupt("killed")
        written.append(part)
        real_write(folder, part, *args, **kwargs)

    monkeypatch.setattr(token_store, "write_part", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        _tokens(toy_data_dir, str(tmp_path))
    (entry,) = os.listdir(tmp_path)
    assert not (tmp_path / entry / "tokens" / token_store.STORE_FILE).exists()  # unfinished reads as such
    written.clear()

    def counts(folder, part, *args, **kwargs):
        written.append(part)
        real_write(folder, part, *args, **kwargs)

    monkeypatch.setattr(token_store, "write_part", counts)
    store, model, spec, split = _tokens(toy_data_dir, str(tmp_path))
    assert written == [2, 3, 4, 5]  # parts 0 and 1 were kept; 21 videos in parts of 4
    assert store.parts == (4, 4, 4, 4, 4, 1)
    np.testing.assert_allclose(store.take(np.arange(21)), _direct(model, spec, split), atol=1e-5)


def test_pooling_follows_each_layout():
    d = 3
    grid = np.arange(2 * 3 * 4 * d, dtype=np.float32).reshape(2, 3, 4, d)  # t, h, w, D
    want = np.stack(
        [
            np.stack(
                [
                    grid[t, 0:2, 0:2].mean((0, 1)),
                    grid[t, 0:2, 2:4].mean((0, 1)),
                    grid[t, 2:3, 0:2].mean((0, 1)),
                    grid[t, 2:3, 2:4].mean((0, 1)),
                ]
            )
            for t in range(2)
        ]
    ).reshape(8, d)  # fmt: skip  (the odd last row averages the one row it covers)
    thw = grid.reshape(1, 24, d)
    out = token_layout.pool(jnp.asarray(thw), token_layout.TokenLayout((2, 3, 4)), (2, 2))
    np.testing.assert_allclose(out[0], want, rtol=1e-6)
    cls = np.full((1, 1, d), -1.0, np.float32)
    hwt = np.concatenate([cls, grid.transpose(1, 2, 0, 3).reshape(1, 24, d)], axis=1)  # ViCLIP's order
    out = token_layout.pool(jnp.asarray(hwt), token_layout.TokenLayout((2, 3, 4), "hwt", prefix=1), (2, 2))
    np.testing.assert_allclose(out[0], np.concatenate([cls[0], want]), rtol=1e-6)
    frames = np.concatenate(
        [np.full((2, 1, d), -2.0, np.float32), grid.reshape(2, 12, d)], axis=1
    )  # DINOv2's
    out = token_layout.pool(
        jnp.asarray(frames.reshape(1, 26, d)), token_layout.TokenLayout((2, 3, 4), frame_prefix=1), (2, 2)
    )
    np.testing.assert_allclose(out[0], np.concatenate([np.full((2, d), -2.0), want]), rtol=1e-6)
    with pytest.raises(ValueError, match="do not match the layout"):
        token_layout.pool(jnp.asarray(thw[:, :20]), token_layout.TokenLayout((2, 3, 4)), (2, 2))


TINY = {
    "vjepa21": dict(img_size=32, patch_size=16, num_frames=4, embed_dim=16, depth=12, num_heads=2),
    "vjepa2": dict(img_size=32, patch_size=8, num_frames=4, embed_dim=16, depth=1, num_heads=2),
    "dinov2": dict(patch_size=8, embed_dim=16, depth=1, num_heads=2, pos_grid=4, num_frames=2, img_size=32),
    "siglip": dict(img_size=32, patch_size=8, num_frames=2, width=16, layers=1, heads=2, mlp_dim=32,
                   text_width=16, text_layers=1, text_heads=2, text_mlp_dim=32, projection_size=16,
                   vocab_size=10, context_length=4),
    "videoprism": dict(patch_size=8, pos_emb_shape=(2, 4, 4), model_dim=16, num_spatial_layers=1,
                       num_temporal_layers=1, num_heads=2, mlp_dim=32, num_frames=2, img_size=32),
}  # fmt: skip


@pytest.mark.slow_variants
@pytest.mark.parametrize("family", ["toy-vit", "toy-viclip", *TINY])
def test_every_familys_layout_counts_its_tokens(family):
    """A family's token_layout describes exactly the tokens it gives (so pooling never mixes them up)."""
    if family in TINY:
        model = models.family_module(family).build(TINY[family], dtype=jnp.float32, attention_impl=None,
                                                   rngs=nnx.Rngs(0))  # fmt: skip
        frames, size = TINY[family]["num_frames"], TINY[family]["img_size"]
    else:
        model, spec = models.create(family, seed=0)
        frames, size = spec.num_frames, spec.crop_size
    video = jnp.zeros((1, frames, size, size, 3))
    layout = model.token_layout(video.shape)
    assert model.tokens(video).shape[1] == layout.num_tokens
    pooled = token_layout.recipe_tokens(model, video, (), (2, 2))
    t, h, w = layout.grid
    per_frame = layout.frame_prefix * t
    assert pooled.shape[2] == layout.prefix + per_frame + t * -(-h // 2) * -(-w // 2)
