"""Probes on frozen features equal their scikit-learn (or DINO) definitions, deterministically."""

import jax
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid

from gesture_jax.analysis import knn, probes
from gesture_jax.infra import parallel


def _mesh(num_devices):
    return parallel.make_mesh(jax.devices()[:num_devices])


def _random(seed, gallery_size=203, num_queries=61, dim=16, num_classes=7):
    rng = np.random.default_rng(seed)
    gallery = rng.normal(size=(gallery_size, dim)).astype(np.float32)
    labels = rng.integers(0, num_classes, size=gallery_size)
    return gallery, labels, rng.normal(size=(num_queries, dim)).astype(np.float32)


@pytest.mark.slow_variants
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_uniform_votes_are_knn_classify(metric):
    gallery, labels, queries = _random(0)
    got = probes.knn_predict(gallery, labels, queries, k=5, metric=metric, num_classes=7, mesh=_mesh(8))
    want = knn.knn_classify(gallery, labels, queries, k=5, metric=metric, num_classes=7, mesh=_mesh(8))
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int32 and got.shape == (61,)


@pytest.mark.slow_variants
@pytest.mark.parametrize("num_devices", [1, 8])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize("k", [1, 4, 9])
def test_distance_votes_match_sklearn(num_devices, metric, k):
    gallery, labels, queries = _random(k + num_devices)
    got = probes.knn_predict(
        gallery, labels, queries, k=k, metric=metric, votes="distance", num_classes=7, mesh=_mesh(num_devices)
    )
    clf = KNeighborsClassifier(
        n_neighbors=k, weights="distance", algorithm="brute", metric="euclidean" if metric == "l2" else metric
    )
    np.testing.assert_array_equal(got, clf.fit(gallery, labels).predict(queries))
    assert got.dtype == np.int32


@pytest.mark.slow_variants
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_distance_votes_at_zero_distance_count_only_those(metric):
    # Three neighbours at distance 0 vote one each: class 3 (two) beats class 1 (one), although the two
    # class-1 neighbours close by would tip it to class 1 if they counted, and 1/0 = inf weights would tie.
    gallery = np.array([[1, 0], [1, 0], [1, 0], [1, 0.01], [1, -0.01]], np.float32)
    labels = np.array([1, 3, 3, 1, 1])
    query = np.array([[2, 0]] if metric == "cosine" else [[1, 0]], np.float32)
    got = probes.knn_predict(
        gallery, labels, query, k=5, metric=metric, votes="distance", num_classes=4, mesh=_mesh(2)
    )
    assert got.tolist() == [3]
    clf = KNeighborsClassifier(
        n_neighbors=5, weights="distance", algorithm="brute", metric="euclidean" if metric == "l2" else metric
    )
    assert clf.fit(gallery, labels).predict(query).tolist() == [3]


def _dino_knn(gallery, labels, queries, k, temperature, num_classes):
    """DINO's eval_knn.py in numpy: top-k cosine similarities, votes exp(sim / T) summed per class."""

    def unit(x):
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norm == 0, 1, norm)

    similarity = unit(queries.astype(np.float64)) @ unit(gallery.astype(np.float64)).T
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    weights = np.exp(np.take_along_axis(similarity, top, axis=1) / temperature)
    scores = (np.eye(num_classes)[labels[top]] * weights[..., None]).sum(axis=1)
    return scores.argmax(axis=1)


@pytest.mark.slow_variants
@pytest.mark.parametrize("temperature", [0.07, 0.5])
@pytest.mark.parametrize("k", [1, 10])
def test_temperature_votes_match_dino(temperature, k):
    gallery, labels, queries = _random(k)
    gallery[3] = 0.0  # a zero row has similarity 0 to everything, as in knn
    got = probes.knn_predict(
        gallery,
        labels,
        queries,
        k=k,
        metric="cosine",
        votes="temperature",
        temperature=temperature,
        num_classes=7,
        mesh=_mesh(8),
    )
    np.testing.assert_array_equal(got, _dino_knn(gallery, labels, queries, k, temperature, 7))


def test_temperature_votes_do_not_overflow_at_tiny_temperature():
    """exp(1 / 0.001) overflows float64; the shift by the best similarity keeps the vote exact."""
    gallery, labels, queries = _random(5)
    got = probes.knn_predict(
        gallery, labels, queries, k=3, metric="cosine", votes="temperature", temperature=1e-3, num_classes=7
    )
    np.testing.assert_array_equal(got, knn.knn_classify(gallery, labels, queries, k=1, metric="cosine"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(votes="softmax"), "unknown votes"),
        (dict(votes="temperature"), "requires metric='cosine'"),
        (dict(votes="temperature", metric="cosine", temperature=0.0), "temperature must be positive"),
        (dict(k=0), "k=0"),
        (dict(k=11, votes="distance"), "k=11 must be between 1 and the gallery size 10"),
        (dict(num_classes=2), r"must lie in \[0, num_classes=2\)"),
    ],
)
def test_knn_predict_bad_arguments(kwargs, message):
    args = dict(k=3, num_classes=3, mesh=_mesh(1)) | kwargs
    with pytest.raises(ValueError, match=message):
        probes.knn_predict(np.zeros((10, 3)), np.arange(10) % 3, np.zeros((2, 3)), **args)


@pytest.mark.parametrize(
    "labels, message", [(-np.ones(10, int), "must lie in"), (np.full(10, 0.5), "integers")]
)
def test_knn_predict_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        probes.knn_predict(np.zeros((10, 3)), labels, np.zeros((2, 3)), k=1, num_classes=3, mesh=_mesh(1))


def test_prototypes_l2_match_nearest_centroid():
    gallery, labels, queries = _random(1)
    got = probes.prototype_predict(gallery, labels, queries, num_classes=7)
    np.testing.assert_array_equal(got, NearestCentroid().fit(gallery, labels).predict(queries))
    assert got.dtype == np.int32


def test_prototypes_cosine_are_means_of_unit_features():
    gallery, labels, queries = _random(2)
    unit = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    means = np.stack([unit[labels == c].mean(0) for c in range(7)])
    similarity = queries @ (means / np.linalg.norm(means, axis=1, keepdims=True)).T
    got = probes.prototype_predict(gallery, labels, queries, metric="cosine", num_classes=7)
    np.testing.assert_array_equal(got, similarity.argmax(1))
    rescaled = gallery * np.random.default_rng(0).uniform(0.1, 10, size=(len(gallery), 1))
    again = probes.prototype_predict(rescaled, labels, queries * 3, metric="cosine", num_classes=7)
    np.testing.assert_array_equal(again, got)  # only directions matter


@pytest.mark.slow_variants
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_prototypes_never_predict_absent_classes(metric):
    gallery, labels, queries = _random(3, num_classes=3)
    labels = labels * 2  # classes 0, 2, 4 of 6
    got = probes.prototype_predict(gallery, labels, queries, metric=metric, num_classes=6)
    assert set(got.tolist()) <= {0, 2, 4} and len(set(got.tolist())) > 1
    if metric == "l2":
        np.testing.assert_array_equal(got, NearestCentroid().fit(gallery, labels).predict(queries))


def test_prototype_ties_go_to_smallest_class():
    gallery = np.array([[1.0], [-1.0]], np.float32)
    got = probes.prototype_predict(gallery, np.array([4, 1]), np.zeros((1, 1)), num_classes=5)
    assert got.tolist() == [1]


N, D, C = 240, 12, 4
DECAYS = (1e-3, 1e-2, 1e-1)


def _separable(seed=0, num_classes=C):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(num_classes, D)) * 1.5
    y = np.arange(N) % num_classes
    x = centres[y] + rng.normal(size=(N, D)) + 3.0  # off-centre, so standardising matters
    return x.astype(np.float32), y, (centres[y[:60]] + rng.normal(size=(60, D)) + 3.0).astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    x, y, queries = _separable()
    return x, y, queries, probes.fit_linear_probe(x, y, num_classes=C, weight_decays=DECAYS, mesh=_mesh(8))


def test_linear_probe_matches_sklearn(fitted):
    x, y, queries, fits = fitted
    for probe, decay in zip(fits, DECAYS):
        assert (
            probe.weight_decay == decay and probe.grad_norm < 1e-5 and 0 < probe.steps < 300
        )  # the default tol, max_steps
        np.testing.assert_allclose(probe.mean, x.mean(0, dtype=np.float64))
        standardised = (x - probe.mean) / probe.scale
        # scikit-learn minimises C Σ CE + ½‖W‖²; with C = 1 / (λ N) that is our objective divided by λ.
        sk = LogisticRegression(C=1 / (decay * N), tol=1e-10, max_iter=10_000).fit(standardised, y)
        scale = np.abs(sk.coef_).max()
        np.testing.assert_allclose(probe.weights, sk.coef_.T, rtol=1e-3, atol=1e-3 * scale)
        # Softmax is unchanged by a common shift of the biases: compare them centred.
        bias = sk.intercept_ - sk.intercept_.mean()
        np.testing.assert_allclose(probe.bias - probe.bias.mean(), bias, atol=1e-3 * scale)
        for points in (x, queries):
            got = probes.linear_probe_predict(probe, points)
            np.testing.assert_array_equal(got, sk.predict((points - probe.mean) / probe.scale))
            assert got.dtype == np.int32
        logits = probes.linear_probe_logits(probe, queries)
        np.testing.assert_allclose(
            logits, sk.decision_function((queries - probe.mean) / probe.scale), atol=1e-2
        )


def test_larger_weight_decay_gives_smaller_weights(fitted):
    norms = [np.linalg.norm(p.weights) for p in fitted[3]]
    assert norms[0] > norms[1] > norms[2] > 0


@pytest.mark.slow
@pytest.mark.parametrize("devices", [slice(0, 1), slice(5, 6)])
def test_linear_probe_is_bit_identical_on_any_mesh(fitted, devices):
    x, y, _, fits = fitted
    mesh = jax.sharding.Mesh(np.array(jax.devices()[devices]), (parallel.DATA,))
    again = probes.fit_linear_probe(x, y, num_classes=C, weight_decays=DECAYS, mesh=mesh)
    for a, b in zip(fits, again):
        for field in ("weights", "bias", "mean", "scale", "steps", "grad_norm"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


@pytest.mark.slow
def test_linear_probe_absent_class_and_constant_feature():
    x, y, queries = _separable(1, num_classes=3)
    y = np.where(y == 1, 3, y)  # classes 0, 2, 3 of 4
    x[:, 5] = 7.0  # zero variance: the floored scale keeps it at zero, not nan
    (probe,) = probes.fit_linear_probe(x, y, num_classes=4, weight_decays=[1e-2], mesh=_mesh(8))
    assert probe.bias[1] == -np.inf and not probe.weights[:, 1].any()
    assert np.isfinite(probe.weights).all() and probe.grad_norm < 1e-5  # the default tol
    assert not probe.weights[5].any()
    assert set(probes.linear_probe_predict(probe, np.concatenate([x, queries])).tolist()) == {0, 2, 3}


def test_linear_probe_ties_go_to_smallest_class():
    probe = probes.LinearProbe(np.zeros((2, 3), np.float32), np.array([0, 1, 1], np.float32), 0, 1, 0.0)
    assert probes.linear_probe_predict(probe, np.ones((2, 2))).tolist() == [1, 1]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(weight_decays=[]), "weight_decays"),
        (dict(weight_decays=[-1.0]), "weight_decays"),
        (dict(num_classes=2), "must lie in"),
    ],
)
def test_linear_probe_bad_arguments(kwargs, message):
    args = dict(num_classes=3, weight_decays=[1.0]) | kwargs
    with pytest.raises(ValueError, match=message):
        probes.fit_linear_probe(np.zeros((6, 2)), np.arange(6) % 3, **args)


def test_stratified_folds():
    labels = np.repeat([0, 1, 2, 3], [23, 10, 5, 3])
    np.random.default_rng(0).shuffle(labels)
    folds = probes.stratified_folds(labels, num_folds=5, seed=1)
    assert len(folds) == 5
    np.testing.assert_array_equal(np.sort(np.concatenate(folds)), np.arange(len(labels)))
    assert all((np.diff(f) > 0).all() for f in folds)  # sorted, no repeats
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for c in range(4):
        counts = [int((labels[f] == c).sum()) for f in folds]
        assert max(counts) - min(counts) <= 1  # spread evenly: every fold has one if ≥ 5 members
        assert (min(counts) >= 1) == ((labels == c).sum() >= 5)
    again = probes.stratified_folds(labels, num_folds=5, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(folds, again))
    other = probes.stratified_folds(labels, num_folds=5, seed=2)
    assert not all(np.array_equal(a, b) for a, b in zip(folds, other))
    with pytest.raises(ValueError, match="num_folds"):
        probes.stratified_folds(labels, num_folds=1)


def test_knn_row_from_precomputed_neighbours_is_the_same_row():
    """method_rows.knn_row given the neighbours a caller already searched (mode diagnose) scores exactly as
    it does searching itself, with the usable k; neighbours of another shape are refused."""
    from gesture_jax.evaluation import method_rows, scoring
    from gesture_jax.features.extraction import VideoVectors

    gallery, labels, queries = _random(3, gallery_size=40, num_queries=13)
    q_labels = np.random.default_rng(4).integers(0, 7, size=13)
    g = VideoVectors(gallery, labels.astype(np.int32), np.array([f"g{i}" for i in range(40)]))
    q = VideoVectors(queries, q_labels.astype(np.int32), np.array([f"q{i}" for i in range(13)]))
    common = dict(k=5, metric="l2", class_names=tuple("abcdefg"), mesh=_mesh(8), key=scoring.RowKey(
        "", "e", "frozen", "g", "q"))  # fmt: skip
    searched = method_rows.knn_row(g, q, **common)
    found = knn.knn_neighbours(gallery, queries, k=5, mesh=_mesh(8))
    given = method_rows.knn_row(g, q, **common, neighbours=found)
    np.testing.assert_array_equal(given.predictions, searched.predictions)
    assert given.settings == searched.settings and given.metrics == searched.metrics
    with pytest.raises(ValueError, match=r"neighbours of shape \(13, 3\); expected \[13, 5\]"):
        method_rows.knn_row(g, q, **common, neighbours=found[:, :3])
