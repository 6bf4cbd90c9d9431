"""Evaluation input pipeline: per-process rows of padded, masked global batches, in record order."""

import jax
import numpy as np
import pytest

from gesture_jax.data import datasets, pipeline
from gesture_jax.data.spec import VideoSpec
from gesture_jax.infra import parallel

SPEC = VideoSpec(
    num_frames=4, sampler="tsn", resize="short_side", resize_size=40, crop="center", crop_size=32
)


@pytest.fixture(scope="module")
def split(toy_data_dir):
    return datasets.open_split("toy_gestures/real_small:train", toy_data_dir)


def _all(split, **kwargs):
    return list(pipeline.eval_batches(split.source, SPEC, num_threads=2, **kwargs))


def test_batches_cover_every_record_once_with_padding(split):
    batches = _all(split, global_batch=8, row_start=0, rows=8)
    assert len(batches) == pipeline.num_eval_batches(len(split), 8) == 3  # 21 records
    index = np.concatenate([b["index"] for b in batches])
    mask = np.concatenate([b["mask"] for b in batches])
    assert index[mask].tolist() == list(range(len(split)))
    assert mask.sum() == len(split) and (index[~mask] == -1).all()
    video = batches[-1]["video"]
    assert video.shape == (8, 1, 4, 32, 32, 3) and video.dtype == np.uint8
    assert not video[~batches[-1]["mask"]].any()  # padding is zeros
    assert (
        np.concatenate([b["label"] for b in batches])[mask]
        == [split.source[i]["label"] for i in range(len(split))]
    ).all()
    ids = pipeline.decode_ids(np.concatenate([b["id"] for b in batches])[mask])
    assert ids.tolist() == [split.source[i]["id"].decode() for i in range(len(split))]


def test_process_rows_reassemble_the_global_batch(split):
    """Two 'processes' feeding rows [0, 4) and [4, 8) of each global batch give the one-process batch."""
    whole = _all(split, global_batch=8, row_start=0, rows=8)
    halves = [_all(split, global_batch=8, row_start=s, rows=4) for s in (0, 4)]
    for b, (first, second) in enumerate(zip(*halves)):
        for key in whole[b]:
            np.testing.assert_array_equal(np.concatenate([first[key], second[key]]), whole[b][key])


def test_resume_from_any_batch_is_the_same(split):
    whole = _all(split, global_batch=8, row_start=0, rows=8)
    tail = _all(split, global_batch=8, row_start=0, rows=8, start_batch=1)
    assert len(tail) == 2
    for a, b in zip(whole[1:], tail):
        np.testing.assert_array_equal(a["video"], b["video"])


def test_process_batch_slice_single_process():
    mesh = parallel.make_mesh()
    assert parallel.process_batch_slice(16, mesh) == (0, 16)
    with pytest.raises(ValueError, match="multiple"):
        parallel.process_batch_slice(12, mesh)


def test_clip_views_decode_the_sampled_frames(split):
    from gesture_jax.data import frames, sampling, transforms

    record = split.source[2]
    views = pipeline.clip_views(record, SPEC)
    idx = sampling.frame_indices("tsn", len(record["frames"]), num_frames=4)
    expected = transforms.center_crop(
        transforms.resize_short_side(frames.decode_frames(record["frames"], idx), 40), 32
    )
    np.testing.assert_array_equal(views[0], expected)


def test_check_spec_rejects_unknown_sizes():
    with pytest.raises(ValueError, match="output size"):
        pipeline.check_spec(VideoSpec(resize="short_side", crop="none"))


def test_normalize_on_device_matches_host_reference():
    from gesture_jax.data import transforms

    x = np.random.default_rng(0).integers(0, 256, (2, 4, 8, 8, 3), dtype=np.uint8)
    got = np.asarray(jax.jit(lambda v: pipeline.normalize_on_device(v, SPEC))(x))
    np.testing.assert_allclose(got, transforms.normalize(x, SPEC.mean, SPEC.std), atol=1e-6)


def test_ids_round_trip_and_length_limit():
    rows = np.stack([pipeline.encode_id("real/test/00001"), pipeline.encode_id(b"a b")])
    assert pipeline.decode_ids(rows).tolist() == ["real/test/00001", "a b"]
    with pytest.raises(ValueError, match="longer"):
        pipeline.encode_id("x" * (pipeline.ID_BYTES + 1))
