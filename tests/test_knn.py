"""The sharded KNN equals scikit-learn's brute-force KNeighborsClassifier on 1 and 8 devices."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from gesture_jax.analysis import knn
from gesture_jax.infra import parallel


def _mesh(num_devices):
    return parallel.make_mesh(jax.devices()[:num_devices])


def _sklearn(gallery, labels, queries, k, metric):
    clf = KNeighborsClassifier(
        n_neighbors=k, algorithm="brute", metric="euclidean" if metric == "l2" else "cosine"
    )
    return clf.fit(gallery, labels).predict(queries)


@pytest.mark.slow_variants
@pytest.mark.parametrize("num_devices", [1, 8])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_matches_sklearn(num_devices, metric, k):
    rng = np.random.default_rng(k * 10 + num_devices)
    gallery = rng.normal(size=(203, 24)).astype(np.float32)  # 203: not divisible by 8 devices
    labels = rng.integers(0, 7, size=203)
    queries = rng.normal(size=(99, 24)).astype(np.float32)
    got = knn.knn_classify(gallery, labels, queries, k=k, metric=metric, mesh=_mesh(num_devices))
    np.testing.assert_array_equal(got, _sklearn(gallery, labels, queries, k, metric))
    assert got.dtype == np.int32 and got.shape == (99,)


@pytest.mark.slow_variants
@pytest.mark.parametrize("gallery_size", [7, 9, 40])
def test_small_and_blocked_galleries(gallery_size):
    """Galleries smaller than the device count, and galleries scanned in several blocks per device."""
    rng = np.random.default_rng(gallery_size)
    gallery = rng.normal(size=(gallery_size, 5)).astype(np.float32)
    labels = rng.integers(0, 3, size=gallery_size)
    queries = rng.normal(size=(13, 5)).astype(np.float32)
    expected = _sklearn(gallery, labels, queries, 5, "l2")
    neighbours = knn.knn_neighbours(gallery, queries, k=5, mesh=_mesh(8), gallery_block=2, query_block=4)
    votes = (labels[neighbours][..., None] == np.arange(3)).sum(1)
    np.testing.assert_array_equal(votes.argmax(1), expected)
    np.testing.assert_array_equal(knn.knn_classify(gallery, labels, queries, k=5, mesh=_mesh(8)), expected)


def test_neighbours_are_nearest_first():
    gallery = np.arange(10, dtype=np.float32)[:, None]
    neighbours = knn.knn_neighbours(gallery, np.array([[6.2]], np.float32), k=4, mesh=_mesh(8))
    np.testing.assert_array_equal(neighbours, [[6, 7, 5, 8]])


def test_vote_ties_go_to_smallest_class():
    # Each query has one neighbour of each of 3 classes (k=3): the smallest class index wins.
    gallery = np.array([[0.0], [1.0], [-1.0]], np.float32)
    labels = np.array([5, 2, 4])
    got = knn.knn_classify(gallery, labels, np.array([[0.0]], np.float32), k=3, mesh=_mesh(2))
    assert got.tolist() == [2]


def test_cosine_ignores_scale():
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(50, 8)).astype(np.float32)
    labels = rng.integers(0, 4, size=50)
    queries = rng.normal(size=(20, 8)).astype(np.float32)
    a = knn.knn_classify(gallery, labels, queries, metric="cosine", mesh=_mesh(8))
    b = knn.knn_classify(gallery * 3.0, labels, queries * 0.1, metric="cosine", mesh=_mesh(8))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(k=0), "k=0"),
        (dict(k=11), "k=11"),
        (dict(metric="manhattan"), "unknown KNN metric"),
        (dict(num_classes=2), "out of range"),
    ],
)
def test_bad_arguments(kwargs, message):
    gallery = np.zeros((10, 3), np.float32)
    labels = np.arange(10) % 3
    with pytest.raises(ValueError, match=message):
        knn.knn_classify(gallery, labels, np.zeros((2, 3), np.float32), mesh=_mesh(1), **kwargs)


def test_bad_shapes():
    with pytest.raises(ValueError, match="expected gallery"):
        knn.knn_classify(np.zeros((10, 3)), np.zeros(10, int), np.zeros((2, 4)), mesh=_mesh(1))
    with pytest.raises(ValueError, match="gallery_labels"):
        knn.knn_classify(np.zeros((10, 3)), np.zeros(9, int), np.zeros((2, 3)), mesh=_mesh(1))


def test_label_values_are_kept():
    """Non-contiguous and float-typed integer labels predict the same label values as scikit-learn."""
    rng = np.random.default_rng(3)
    gallery = rng.normal(size=(60, 6)).astype(np.float32)
    labels = rng.choice([2, 5, 9], size=60)
    queries = rng.normal(size=(25, 6)).astype(np.float32)
    expected = _sklearn(gallery, labels, queries, 3, "l2")
    np.testing.assert_array_equal(knn.knn_classify(gallery, labels, queries, mesh=_mesh(8)), expected)
    as_float = knn.knn_classify(gallery, labels.astype(np.float64), queries, mesh=_mesh(8))
    np.testing.assert_array_equal(as_float, expected)


@pytest.mark.slow_variants
@pytest.mark.parametrize("width, k", [(512, 1), (1000, 3), (16384, 5), (700, 7), (4096, 20)])
def test_two_pass_top_k_equals_lax_top_k_with_ties(width, k):
    """Many equal scores (small integers) and -inf padding: values and indices exactly as lax.top_k."""
    rng = np.random.default_rng(width + k)
    scores = rng.integers(0, 6, size=(9, width)).astype(np.float32)
    scores[:, -5:] = -np.inf
    scores[0] = 1.0  # a row that is all ties
    # Equal runners-up in two chunks whose maxima rank against their order: the earlier one must win.
    scores[1, :] = 0.0
    scores[1, [0, 1, 256, 257]] = [7.0, 5.0, 9.0, 5.0]
    values, index = jax.jit(knn._top_k, static_argnums=1)(jnp.asarray(scores), k)
    want_values, want_index = jax.lax.top_k(jnp.asarray(scores), k)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(index, want_index)


@pytest.mark.slow_variants
@pytest.mark.parametrize("num_devices", [1, 2])
def test_large_gallery_matches_sklearn(num_devices):
    """Blocks wide enough for the two-pass top-k, a short last block, and a device-count remainder."""
    rng = np.random.default_rng(num_devices)
    gallery = rng.normal(size=(3001, 16)).astype(np.float32)
    queries = rng.normal(size=(37, 16)).astype(np.float32)
    for metric in ("l2", "cosine"):
        got = knn.knn_neighbours(
            gallery, queries, k=4, metric=metric, mesh=_mesh(num_devices), gallery_block=1024
        )
        want = NearestNeighbors(
            n_neighbors=4, algorithm="brute", metric="euclidean" if metric == "l2" else metric
        )
        want_index = want.fit(gallery).kneighbors(queries, return_distance=False)
        np.testing.assert_array_equal(got, want_index)


@pytest.mark.slow_variants
@pytest.mark.parametrize("where", ["gallery", "queries"])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_input_is_refused_naming_the_row(where, bad):
    arrays = {"gallery": np.ones((10, 3), np.float32), "queries": np.ones((4, 3), np.float32)}
    arrays[where][2, 1] = bad
    with pytest.raises(ValueError, match=f"{where} must be finite: row 2"):
        knn.knn_neighbours(arrays["gallery"], arrays["queries"], k=1, mesh=_mesh(1))


@pytest.mark.slow_variants
@pytest.mark.parametrize("where", ["gallery", "queries"])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_a_row_whose_squared_norm_overflows_is_refused_naming_it(where, metric):
    """Finite values above ~1e19 have no float32 distance: an error naming the row, not a neighbour that
    ranks as infinitely far (or, for cosine, a row normalised to zero)."""
    arrays = {"gallery": np.ones((4, 2), np.float32), "queries": np.ones((3, 2), np.float32)}
    arrays[where][1] = [3e19, 1.0]
    with pytest.raises(ValueError, match=f"{where} row 1: its squared norm overflows float32.*3e\\+19"):
        knn.knn_neighbours(arrays["gallery"], arrays["queries"], k=1, metric=metric, mesh=_mesh(1))
    arrays[where][1] = [1e18, 1.0]  # large but representable: accepted
    assert knn.knn_neighbours(
        arrays["gallery"], arrays["queries"], k=1, metric=metric, mesh=_mesh(1)
    ).shape == (3, 1)


@pytest.mark.slow_variants
@pytest.mark.parametrize("num_devices", [1, 8])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_gallery_mask_equals_the_subset_gallery(num_devices, metric):
    """A masked gallery finds the neighbours the kept rows alone would (in full-gallery indices), with
    one compiled search for every mask (ablations change the mask, not the shape)."""
    rng = np.random.default_rng(3)
    gallery = rng.normal(size=(61, 12)).astype(np.float32)
    queries = rng.normal(size=(17, 12)).astype(np.float32)
    mesh = _mesh(num_devices)
    for num_kept in (55, 30, 4):
        mask = np.zeros(61, bool)
        mask[rng.choice(61, num_kept, replace=False)] = True
        kept = np.flatnonzero(mask)
        got = knn.knn_neighbours(gallery, queries, k=3, metric=metric, mesh=mesh, gallery_mask=mask)
        want = kept[knn.knn_neighbours(gallery[kept], queries, k=3, metric=metric, mesh=mesh)]
        np.testing.assert_array_equal(got, want)
        assert mask[got].all()


def test_gallery_mask_is_checked():
    gallery, queries = np.ones((5, 2), np.float32), np.ones((1, 2), np.float32)
    with pytest.raises(ValueError, match=r"bool array of shape \[5\]"):
        knn.knn_neighbours(gallery, queries, k=1, gallery_mask=np.ones(5, int))
    with pytest.raises(ValueError, match="between 1 and the gallery size 2"):
        knn.knn_neighbours(gallery, queries, k=3, gallery_mask=np.array([1, 1, 0, 0, 0], bool))


@pytest.mark.slow
@pytest.mark.parametrize("num_devices", [1, 8])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_the_bfloat16_screen_finds_the_float32_neighbours(num_devices, metric):
    """Screened and float32-only searches agree exactly: scaled and shifted features, exact duplicate rows
    (ties go to the smaller index), a mask, several blocks per device and k up to the candidate count."""
    rng = np.random.default_rng(num_devices)
    gallery = (rng.normal(size=(2500, 40)) * 3 + 5).astype(np.float32)
    gallery[1000:1010] = gallery[7]  # exact ties with row 7
    queries = np.concatenate([rng.normal(size=(40, 40)) * 3 + 5, gallery[[7, 1003]] + 1e-3]).astype(
        np.float32
    )
    mask = rng.random(2500) > 0.2
    mask[[7, 1004]] = True
    mesh = _mesh(num_devices)
    for k in (1, 3, 16):
        for m in (None, mask):
            kwargs = dict(k=k, metric=metric, mesh=mesh, gallery_mask=m, gallery_block=256)
            got = knn.knn_neighbours(gallery, queries, **kwargs)
            np.testing.assert_array_equal(got, knn.knn_neighbours(gallery, queries, screen=False, **kwargs))


def test_queries_the_screen_cannot_prove_are_searched_again_in_float32(monkeypatch):
    """Near-duplicate rows closer than bfloat16 can tell apart: the bound cannot single out the k nearest
    among more than the candidate count, so those queries (and only those) go to the float32 search."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=64).astype(np.float32)
    gallery = np.concatenate([base + 1e-4 * rng.normal(size=(100, 64)), rng.normal(size=(900, 64))])
    gallery = gallery.astype(np.float32)
    queries = np.concatenate([base[None] + 1e-5, rng.normal(size=(7, 64))]).astype(np.float32)
    redone = []
    real = knn._search_fn

    def spy(*args):
        search = real(*args)
        return lambda scale, q, g, b: (redone.append(q.shape[0]), search(scale, q, g, b))[1]

    monkeypatch.setattr(knn, "_search_fn", spy)
    got = knn.knn_neighbours(gallery, queries, k=3, mesh=_mesh(2))
    assert redone == [8]  # the one near-duplicate query, padded to 8 rows
    want = NearestNeighbors(n_neighbors=3, algorithm="brute").fit(gallery).kneighbors(queries)[1]
    np.testing.assert_array_equal(got[1:], want[1:])
    np.testing.assert_array_equal(got, knn.knn_neighbours(gallery, queries, k=3, mesh=_mesh(2), screen=False))
