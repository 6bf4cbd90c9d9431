"""gesture_jax.analysis.attribution against plain loops and scikit-learn's KNN on small random galleries."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from gesture_jax.analysis import attribution, knn, stats
from gesture_jax.infra import storage


def _sklearn_predict(gallery, labels, queries, k):
    def predict(mask):
        clf = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric="euclidean")
        return clf.fit(gallery[mask], labels[mask]).predict(queries)

    return predict


def test_factor_keeps_text_booleans_and_few_numbers():
    f = attribution.factor("avatar", np.array(["Eve", "Bob", "Eve", "Zed"]))
    assert f.values == ("Bob", "Eve", "Zed") and f.codes.tolist() == [1, 0, 1, 2] and f.rule == "each value"
    f = attribution.factor("mirrored", np.array([True, False, True]))
    assert f.values == ("false", "true") and f.codes.tolist() == [1, 0, 1]
    f = attribution.factor("camera_yaw", np.array([0.0, 45.0, 90.0, 45.0]), max_values=3)
    assert f.values == ("0", "45", "90") and f.codes.tolist() == [0, 1, 2, 1]


def test_factor_bins_many_numbers_at_quantiles():
    values = np.arange(100, dtype=np.float64)
    f = attribution.factor("speed", values, max_values=6, bins=4)
    assert f.rule == "4 quantile bins of the gallery's values"
    assert np.bincount(f.codes).tolist() == [25, 25, 25, 25]
    assert f.values == ("[0, 24.75)", "[24.75, 49.5)", "[49.5, 74.25)", "[74.25, 99]")
    for code, v in zip(f.codes, values):  # every value falls in its bin's exact edges
        lo, hi = f.intervals[code]
        assert lo <= v < hi or (code == len(f.values) - 1 and v == hi)
        assert f.describe(code) == {
            "field": "speed",
            "value": f.values[code],
            "rule": f.rule,
            "low": lo,
            "high": hi,
        }
    # Heavy ties collapse bins: no empty bin, codes stay 0..n-1.
    tied = np.array([1.0] * 90 + list(np.linspace(2, 3, 10)))
    g = attribution.factor("t", tied, max_values=3, bins=4)
    assert sorted(set(g.codes.tolist())) == list(range(len(g.values))) and np.bincount(g.codes).min() > 0


def test_factor_refuses_what_it_cannot_read():
    with pytest.raises(ValueError, match="height: 1 values are not finite"):
        attribution.factor("height", np.array([1.0, np.nan] + list(range(10))))
    with pytest.raises(ValueError, match="when: values of dtype datetime64"):
        attribution.factor("when", np.array(["2020-01-01"], dtype="datetime64[D]"))
    with pytest.raises(ValueError, match="one value per gallery video"):
        attribution.factor("x", np.array([]))


def test_neighbour_shares_equal_a_plain_count():
    rng = np.random.default_rng(0)
    gallery_labels = rng.integers(0, 3, 30)
    values = rng.choice(np.array(["a", "b", "c"]), 30)
    query_labels = rng.integers(0, 3, 12)
    neighbours = rng.integers(0, 30, (12, 5))
    f = attribution.factor("v", values)
    rows = attribution.neighbour_shares(f, neighbours, gallery_labels, query_labels)
    for row in rows:
        hits = [(q, j) for q in range(12) for j in neighbours[q] if values[j] == row.value]
        assert row.neighbour_count == len(hits)
        assert row.neighbour_share == pytest.approx(len(hits) / 60)
        assert row.gallery_share == pytest.approx((values == row.value).mean())
        assert row.lift == pytest.approx(row.neighbour_share / row.gallery_share)
        right = [gallery_labels[j] == query_labels[q] for q, j in hits]
        assert row.neighbours_correct == (pytest.approx(np.mean(right)) if hits else None)
    assert sum(r.neighbour_count for r in rows) == 60


def _gallery(seed=1):
    """Three well-separated classes; the videos of value "bad" sit at another class's centre."""
    rng = np.random.default_rng(seed)
    centres = 5.0 * np.eye(3, 4)
    labels = np.repeat(np.arange(3), 20)
    values = np.tile(np.array(["good", "good", "good", "bad"]), 15)
    where = labels.copy()
    where[values == "bad"] = (labels[values == "bad"] + 1) % 3  # a "bad" video looks like the next class
    gallery = centres[where] + rng.normal(scale=0.8, size=(60, 4))
    q_labels = np.repeat(np.arange(3), 10)
    queries = centres[q_labels] + rng.normal(scale=0.8, size=(30, 4))
    return gallery, labels, values, queries, q_labels


def test_leave_one_out_equals_sklearn_on_the_reduced_gallery():
    gallery, labels, values, queries, q_labels = _gallery()
    f = attribution.factor("look", values)
    predict = _sklearn_predict(gallery, labels, queries, k=5)
    rows = attribution.leave_one_out([f], predict, q_labels, labels, k=5, seed=0)
    full = predict(np.ones(60, bool)) == q_labels
    for row in rows:
        keep = values != row.value
        correct = (
            _sklearn_predict(gallery[keep], labels[keep], queries, 5)(np.ones(keep.sum(), bool)) == q_labels
        )
        assert row.accuracy == pytest.approx(correct.mean())
        assert row.difference == pytest.approx(correct.mean() - full.mean())
        assert row.ci95 == list(stats.paired_bootstrap_ci(correct, full, strata=q_labels, seed=0))
        assert row.mcnemar_p == stats.mcnemar_exact(correct, full)
        assert row.num_removed == int((~keep).sum()) and row.classes_lost == []
    bad = next(r for r in rows if r.value == "bad")
    assert bad.difference > 0  # the gallery is better without the mislabelled-looking videos
    assert [r.mcnemar_p_holm for r in rows] == list(stats.holm([r.mcnemar_p for r in rows]))


def test_leave_one_out_skips_a_value_that_leaves_too_few_and_names_lost_classes():
    gallery, labels, values, queries, q_labels = _gallery()
    only = attribution.factor("constant", np.array(["x"] * 60))
    by_class = attribution.factor("label", labels.astype(str))
    predict = _sklearn_predict(gallery, labels, queries, k=3)
    rows = attribution.leave_one_out([only, by_class], predict, q_labels, labels, k=3)
    assert rows[0].skipped == "leaves 0 videos, k=3 needs more" and rows[0].accuracy is None
    assert "accuracy" not in storage.as_json_fields(rows[0])  # nor in the JSON
    assert [r.classes_lost for r in rows[1:]] == [[0], [1], [2]]
    assert all(r.mcnemar_p_holm is not None for r in rows[1:])


def test_masked_sharded_knn_is_the_same_predictor():
    """The mode's predictor (the sharded KNN with a gallery mask) agrees with the reduced gallery's."""
    gallery, labels, values, queries, q_labels = _gallery()
    mask = values != "bad"
    got = knn.knn_classify(gallery, labels, queries, k=5, num_classes=3, gallery_mask=mask)
    np.testing.assert_array_equal(got, _sklearn_predict(gallery, labels, queries, 5)(mask))


def test_curation_leaves_out_the_harmful_value_and_stops():
    gallery, labels, values, queries, q_labels = _gallery()
    factors = [attribution.factor("look", values), attribution.factor("label", labels.astype(str))]
    predict = _sklearn_predict(gallery, labels, queries, k=5)
    cur = attribution.curate(factors, predict, q_labels, labels, k=5, max_steps=3)
    assert cur.steps[0].field == "look" and cur.steps[0].value == "bad"
    assert cur.start_accuracy == pytest.approx((predict(np.ones(60, bool)) == q_labels).mean())
    accuracies = [cur.start_accuracy] + [s.selection_accuracy for s in cur.steps]
    assert all(b > a for a, b in zip(accuracies, accuracies[1:]))  # every step strictly helped
    assert len(cur.steps) < 3 or accuracies[-1] == 1.0
    assert set(np.unique(labels[cur.mask])) == {0, 1, 2}  # never a whole class (factor "label")
    assert cur.mask.sum() == cur.steps[-1].num_gallery
    if len(cur.steps) == 1:
        np.testing.assert_array_equal(cur.mask, values != "bad")


def test_curation_with_nothing_to_gain_keeps_everything():
    gallery, labels, _, queries, q_labels = _gallery()
    factors = [attribution.factor("noise", np.random.default_rng(5).choice(["p", "q"], 60))]
    always_right = lambda mask: q_labels  # noqa: E731  (a predictor at 100% cannot be improved)
    cur = attribution.curate(factors, always_right, q_labels, labels, k=5, max_steps=3)
    assert cur.steps == [] and cur.mask.all() and cur.start_accuracy == 1.0
