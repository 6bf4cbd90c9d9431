"""The real-video equivalent of a synthetic gallery (gesture_jax.analysis.real_equivalent)."""

import numpy as np
import pytest

from gesture_jax.analysis import real_equivalent as eq


def test_crossing_reads_the_curve_piecewise_linearly():
    xs, ys = [1, 2, 4, 8], [0.2, 0.4, 0.5, 0.7]
    assert eq.crossing(xs, ys, 0.3) == (1.5, "inside")
    assert eq.crossing(xs, ys, 0.6) == (6.0, "inside")
    assert eq.crossing(xs, ys, 0.2) == (1.0, "inside")
    assert eq.crossing(xs, ys, 0.1) == (1.0, "below")
    assert eq.crossing(xs, ys, 0.9) == (8.0, "above")
    # not monotone: the first crossing counts
    assert eq.crossing([1, 2, 3], [0.2, 0.6, 0.4], 0.5) == (1.75, "inside")
    with pytest.raises(ValueError, match="increasing"):
        eq.crossing([2, 1], [0.1, 0.2], 0.1)


def _correct(rng, accuracy, n, draws=None):
    shape = (n,) if draws is None else (draws, n)
    return (rng.random(shape) < accuracy).astype(float)


def test_equivalent_and_its_interval():
    rng = np.random.default_rng(0)
    n = 400
    strata = np.arange(n) % 4
    xs = [1, 2, 4, 8, 20]
    real = [_correct(rng, a, n, draws=3) for a in (0.3, 0.45, 0.6, 0.7, 0.8)]
    synthetic = _correct(rng, 0.52, n)
    out = eq.real_video_equivalent(xs, real, synthetic, strata=strata, num_resamples=300)
    curve = [r.mean() for r in real]
    expected, where = eq.crossing(xs, curve, synthetic.mean())
    assert where == "inside" and out["real_videos_per_class"] == pytest.approx(expected)
    assert 2 < expected < 4
    lo, hi = out["ci95"]
    assert lo < expected < hi and 1 <= lo and hi <= 20
    assert out["resamples_below"] == out["resamples_above"] == 0.0
    again = eq.real_video_equivalent(xs, real, synthetic, strata=strata, num_resamples=300)
    assert again == out  # seeded


def test_censored_when_synthetic_beats_every_point():
    rng = np.random.default_rng(1)
    strata = np.arange(200) % 2
    real = [_correct(rng, a, 200) for a in (0.2, 0.3)]
    out = eq.real_video_equivalent([1, 2], real, np.ones(200), strata=strata, num_resamples=50)
    assert out["where"] == "above" and out["real_videos_per_class"] == 2.0
    assert out["resamples_above"] == 1.0 and out["ci95"] == [2.0, 2.0]
    with pytest.raises(ValueError, match="one correctness value per query"):
        eq.real_video_equivalent([1, 2], real, np.ones(10), strata=strata[:10])
