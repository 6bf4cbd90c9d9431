"""The token store (gesture_jax.features.token_store): parts written as extraction produces them, read back
in batches in store order, and memory that stays flat as the number of videos grows."""

import tracemalloc

import numpy as np
import pytest

from gesture_jax.features import token_store


def _store(folder, sizes, shape, seed=0, dtype="float16"):
    rng = np.random.default_rng(seed)
    tokens, labels, ids = [], [], []
    for part, n in enumerate(sizes):
        t = rng.standard_normal((n, *shape)).astype(np.float32)
        lab = rng.integers(0, 7, n).astype(np.int32)
        idx = np.array([f"p{part}v{i}" for i in range(n)])
        token_store.write_part(str(folder), part, t, lab, idx, dtype=dtype)
        tokens.append(t), labels.append(lab), ids.append(idx)
    token_store.finish(str(folder), list(sizes), shape, dtype)
    return np.concatenate(tokens), np.concatenate(labels), np.concatenate(ids)


def test_batches_come_back_in_store_order_across_parts(tmp_path):
    tokens, labels, ids = _store(tmp_path, [5, 3, 7], (4, 6))
    store = token_store.TokenStore.open(str(tmp_path))
    assert (len(store), store.shape, store.bytes_per_video) == (15, (4, 6), 4 * 6 * 2)
    batches = list(store.batches(4))
    assert [len(b.labels) for b in batches] == [4, 4, 4, 3]
    got = np.concatenate([b.tokens for b in batches])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, tokens.astype(np.float16).astype(np.float32))  # stored as float16
    np.testing.assert_array_equal(np.concatenate([b.labels for b in batches]), labels)
    np.testing.assert_array_equal(np.concatenate([b.ids for b in batches]), ids)
    index_labels, index_ids = store.index()
    np.testing.assert_array_equal(index_labels, labels)
    np.testing.assert_array_equal(index_ids, ids)
    exact, _, _ = _store(tmp_path / "f32", [3], (2,), dtype="float32")
    np.testing.assert_array_equal(
        next(token_store.TokenStore.open(str(tmp_path / "f32")).batches(8)).tokens, exact
    )


def test_an_unfinished_or_inconsistent_store_is_named(tmp_path):
    token_store.write_part(str(tmp_path), 0, np.zeros((2, 3)), np.zeros(2), np.array(["a", "b"]))
    with pytest.raises(FileNotFoundError, match="is not a finished token store"):
        token_store.TokenStore.open(str(tmp_path))
    token_store.finish(str(tmp_path), [2], (4,))
    with pytest.raises(ValueError, match=r"part 0: tokens \(2, 3\), store.json says \(2, 4\)"):
        list(token_store.TokenStore.open(str(tmp_path)).batches(2))
    with pytest.raises(ValueError, match="token store dtype 'int8'"):
        token_store.write_part(str(tmp_path), 1, np.zeros((1, 3)), np.zeros(1), np.array(["c"]), dtype="int8")
    with pytest.raises(ValueError, match="2 token rows, 1 labels"):
        token_store.write_part(str(tmp_path), 1, np.zeros((2, 3)), np.zeros(1), np.array(["c"]))


def _peak_while_reading(folder, batch_size):
    store = token_store.TokenStore.open(str(folder))
    tracemalloc.start()
    for batch in store.batches(batch_size):
        del batch
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_stays_flat_as_the_store_grows(tmp_path):
    """Reading 640 videos peaks at what reading 64 does (a batch and a part's index), not 10× it."""
    shape = (256, 64)  # 32 KB per video in float16, 64 KB as a float32 row
    _store(tmp_path / "small", [64], shape)
    _store(tmp_path / "large", [64] * 10, shape, seed=1)
    small, large = _peak_while_reading(tmp_path / "small", 16), _peak_while_reading(tmp_path / "large", 16)
    whole = 640 * 256 * 64 * 4  # the large store as float32 in memory: 42 MB
    assert large < 1.5 * small + 256 * 1024, (small, large)
    assert large < whole / 10, (large, whole)


def test_take_reads_the_rows_asked_in_their_order_across_parts(tmp_path):
    tokens, labels, _ = _store(tmp_path, [3, 4, 2], (2, 5), dtype="float32")
    store = token_store.TokenStore.open(str(tmp_path))
    rows = np.array([8, 0, 5, 3, 3, 1])
    np.testing.assert_array_equal(store.take(rows), tokens[rows])
    assert store.take(np.array([], int)).shape == (0, 2, 5)
    with pytest.raises(IndexError, match="outside the store's 9 videos"):
        store.take(np.array([9]))


def _peak_while_taking(folder, batch_size):
    store = token_store.TokenStore.open(str(folder))
    order = np.random.default_rng(0).permutation(len(store))
    tracemalloc.start()
    for start in range(0, len(store), batch_size):
        batch = store.take(order[start : start + batch_size])
        del batch
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_shuffled_training_reads_keep_memory_flat_too(tmp_path):
    """A probe's epoch reads every video in shuffled order, a batch at a time: 640 videos peak as 64 do."""
    shape = (256, 64)
    _store(tmp_path / "small", [64], shape)
    _store(tmp_path / "large", [64] * 10, shape, seed=1)
    small, large = _peak_while_taking(tmp_path / "small", 16), _peak_while_taking(tmp_path / "large", 16)
    assert large < 1.5 * small + 256 * 1024, (small, large)
    assert large < 640 * 256 * 64 * 4 / 10


def test_tokens_beyond_float16_are_refused_naming_the_part(tmp_path):
    with pytest.raises(ValueError, match=r"part 3: tokens beyond float16's range \(max 7e\+04\)"):
        token_store.write_part(str(tmp_path), 3, np.full((1, 2), 7e4), np.zeros(1), np.array(["a"]))
    with pytest.raises(ValueError, match="part 0: tokens not finite"):
        token_store.write_part(str(tmp_path), 0, np.full((1, 2), np.nan), np.zeros(1), np.array(["a"]))
    token_store.write_part(
        str(tmp_path), 0, np.full((1, 2), 7e4), np.zeros(1), np.array(["a"]), dtype="float32"
    )
