"""Training augmentations and the training input pipeline (order, determinism, resume, held-out classes)."""

import itertools

import numpy as np
import pytest

from gesture_jax.data import augment, datasets, training
from gesture_jax.data.spec import VideoSpec

SPEC = VideoSpec(num_frames=4, crop_size=32)
AUG = augment.AugmentConfig()


def _clip(seed: int = 0, shape: tuple[int, ...] = (3, 48, 64, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- augmentations ---


def test_random_resized_crop_cuts_one_box_from_every_frame():
    frames = _clip()
    out = augment.random_resized_crop(frames, 32, _rng(1))
    assert out.shape == (3, 32, 32, 3) and out.dtype == np.uint8
    for t in range(3):  # the same draws on one frame alone give the same crop
        np.testing.assert_array_equal(out[t], augment.random_resized_crop(frames[t : t + 1], 32, _rng(1))[0])
    np.testing.assert_array_equal(out, augment.random_resized_crop(frames, 32, _rng(1)))
    assert not np.array_equal(out, augment.random_resized_crop(frames, 32, _rng(2)))


def test_crop_boxes_respect_scale_and_ratio():
    height, width, scale, ratio = 48, 64, (0.2, 0.6), (0.5, 2.0)
    rng = _rng(0)
    for _ in range(2000):
        top, left, h, w = augment.resized_crop_box(height, width, rng, scale, ratio)
        assert 0 <= top <= height - h and 0 <= left <= width - w
        # w and h are rounded to pixels, so allow half a pixel either way
        assert (w + 0.5) * (h + 0.5) >= scale[0] * height * width
        assert (w - 0.5) * (h - 0.5) <= scale[1] * height * width
        assert (w + 0.5) / (h - 0.5) >= ratio[0] and (w - 0.5) / (h + 0.5) <= ratio[1]


def test_crop_falls_back_to_a_centre_box_when_no_draw_fits():
    # No box of aspect >= 3 covering 90% of a square fits, so the ratio is clamped to 3 and centred.
    assert augment.resized_crop_box(32, 32, _rng(0), (0.9, 1.0), (3.0, 4.0)) == (10, 0, 11, 32)


def test_color_jitter_is_deterministic_per_rng_and_shared_by_all_frames():
    frames = _clip()
    strengths = dict(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    out = augment.color_jitter(frames, _rng(3), **strengths)
    assert out.shape == frames.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, augment.color_jitter(frames, _rng(3), **strengths))
    assert not np.array_equal(out, augment.color_jitter(frames, _rng(4), **strengths))
    for t in range(3):
        alone = augment.color_jitter(frames[t : t + 1], _rng(3), **strengths)
        np.testing.assert_array_equal(out[t], alone[0])
    np.testing.assert_array_equal(augment.color_jitter(frames, _rng(3)), frames)  # zero strength: identity


def test_brightness_factors_stay_in_range_and_saturate_instead_of_wrapping():
    frames = np.full((2, 8, 8, 3), 200, np.uint8)
    values = set()
    for seed in range(100):
        out = augment.color_jitter(frames, _rng(seed), brightness=0.5)
        assert (out == out.flat[0]).all()
        values.add(int(out.flat[0]))
    assert min(values) >= 100 and max(values) == 255  # factor in [0.5, 1.5]; 200·1.5 clips to 255


def test_hue_shift_rotates_colours_and_keeps_greys():
    grey = np.full((1, 4, 4, 3), 90, np.uint8)
    red = np.zeros((1, 4, 4, 3), np.uint8)
    red[..., 0] = 255
    for seed in range(10):
        np.testing.assert_array_equal(augment.color_jitter(grey, _rng(seed), hue=0.5), grey)
    shifted = [augment.color_jitter(red, _rng(seed), hue=0.5)[0, 0, 0] for seed in range(10)]
    assert any(px[0] < 255 or px[1] > 0 or px[2] > 0 for px in shifted)


def test_flip_is_off_by_default_and_a_coin_when_asked():
    frames = _clip()
    assert not AUG.hflip
    np.testing.assert_array_equal(augment.horizontal_flip(frames), frames[:, :, ::-1])
    flipped = 0
    for seed in range(20):
        plain = augment.augment(frames, 32, AUG, _rng(seed))
        np.testing.assert_array_equal(plain, augment.augment(frames, 32, AUG, _rng(seed)))
        mirrored = augment.augment(frames, 32, augment.AugmentConfig(hflip=True), _rng(seed))
        if np.array_equal(mirrored, augment.horizontal_flip(plain)):
            flipped += 1
        else:
            np.testing.assert_array_equal(mirrored, plain)
    assert 0 < flipped < 20


@pytest.mark.parametrize(
    "bad",
    [dict(crop_scale=(0.0, 1.0)), dict(crop_scale=(0.5, 0.4)), dict(crop_ratio=(2.0, 1.0)), dict(hue=0.6)],
)
def test_augment_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        augment.AugmentConfig(**bad)


# --- training pipeline ---


@pytest.fixture(scope="module")
def split(toy_data_dir):
    return datasets.open_split("toy_gestures/real_small:train", toy_data_dir)  # 21 records


class _IndexAsLabel:
    """A source whose label is the record index, so batches reveal which records they hold."""

    def __init__(self, source):
        self.source = source

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index):
        return {**self.source[index], "label": index}


def _batches(source, num, *, global_batch=8, row_start=0, rows=8, num_threads=2, state=None, **kwargs):
    ds = training.train_dataset(
        source,
        SPEC,
        AUG,
        seed=kwargs.pop("seed", 0),
        global_batch=global_batch,
        row_start=row_start,
        rows=rows,
        num_threads=num_threads,
        **kwargs,
    )
    it = iter(ds)
    if state is not None:
        it.set_state(state)
    return list(itertools.islice(it, num)), it


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])


def test_batches_have_the_training_shapes(split):
    batches, _ = _batches(split.source, 3)
    for b in batches:
        assert b.keys() == {"video", "label"}
        assert b["video"].shape == (8, 4, 32, 32, 3) and b["video"].dtype == np.uint8
        assert b["label"].shape == (8,) and b["label"].dtype == np.int32
        assert ((0 <= b["label"]) & (b["label"] < 7)).all()


def test_process_rows_reassemble_the_global_batch(split):
    """Batches 0..2 straddle the end of epoch 0 (21 records), so positions stay global across epochs."""
    whole, _ = _batches(split.source, 3)
    halves = [_batches(split.source, 3, row_start=s, rows=4)[0] for s in (0, 4)]
    joined = [{k: np.concatenate([a[k], b[k]]) for k in a} for a, b in zip(*halves)]
    _assert_same(joined, whole)


def test_epochs_visit_each_index_once_in_a_fresh_order(split):
    source, indices = _IndexAsLabel(split.source), np.array([0, 2, 3, 5, 8, 13, 20])
    batches, _ = _batches(source, 7, global_batch=3, rows=3, indices=indices, seed=5)  # 3 epochs
    order = np.concatenate([b["label"] for b in batches]).reshape(3, 7)
    for epoch, visited in enumerate(order):
        np.testing.assert_array_equal(visited, training.epoch_order(indices, 5, epoch))
        assert sorted(visited) == indices.tolist()
    assert len({tuple(o) for o in order}) == 3
    # epoch streams do not collide with example streams (SeedSequence drops trailing zeros)
    example_0 = np.random.default_rng([5, 1, 0]).permutation(indices)
    assert not np.array_equal(training.epoch_order(indices, 5, 1), example_0)


def test_batches_depend_on_the_seed_only(split):
    first, _ = _batches(split.source, 3, num_threads=1)
    _assert_same(first, _batches(split.source, 3, num_threads=4)[0])
    _assert_same(first, _batches(split.source, 3, num_threads=0, prefetch=0)[0])
    other, _ = _batches(split.source, 1, seed=1)
    assert not np.array_equal(first[0]["video"], other[0]["video"])


def test_restored_iterator_continues_exactly(split):
    whole, _ = _batches(split.source, 5, rows=4, global_batch=4)
    _, it = _batches(split.source, 2, rows=4, global_batch=4)
    state = it.get_state()
    assert state == {"next_index": 8}  # the one integer a checkpoint stores: local examples consumed
    for threads in (2, 1):
        rest, _ = _batches(split.source, 3, rows=4, global_batch=4, num_threads=threads, state=state)
        _assert_same(rest, whole[2:])


def test_heldout_split_and_label_map(split):
    labels = np.array([split.source[i]["label"] for i in range(len(split))])
    train, label_map, kept = training.heldout_split(labels, [1, 4])
    assert kept == [0, 2, 3, 5, 6] and label_map == {0: 0, 2: 1, 3: 2, 5: 3, 6: 4}
    np.testing.assert_array_equal(train, np.flatnonzero(~np.isin(labels, [1, 4])))
    batches, _ = _batches(
        split.source, len(train), global_batch=1, rows=1, indices=train, label_map=label_map
    )
    got = np.concatenate([b["label"] for b in batches])  # exactly one epoch
    assert sorted(got) == sorted(label_map[int(c)] for c in labels[train])
    for bad, match in (([7], "not among"), ([-1], "not among"), (list(range(7)), "no class")):
        with pytest.raises(ValueError, match=match):
            training.heldout_split(labels, bad)


def test_train_dataset_rejects_rows_outside_the_batch(split):
    with pytest.raises(ValueError, match="do not fit"):
        training.train_dataset(split.source, SPEC, AUG, seed=0, global_batch=8, row_start=6, rows=4)


def test_a_label_outside_the_label_map_fails_clearly(split):
    with pytest.raises(ValueError, match="no entry in label_map"):
        _batches(split.source, 1, label_map={0: 0})
