"""Frame samplers against the upstream references' recorded indices, plus our TSN rules."""

import json
from pathlib import Path

import numpy as np
import pytest

from gesture_jax.data.sampling import RULES, frame_indices

FIXTURE = Path(__file__).parent / "fixtures" / "sampling" / "frame_indices_dev.json"
_OUTPUT_KEYS = ("N", "indices", "oob", "error", "frame_numbers")
_FUNCTIONS = json.loads(FIXTURE.read_text())["functions"]


def _params(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in _OUTPUT_KEYS}


@pytest.mark.parametrize("rule", sorted(_FUNCTIONS))
def test_matches_reference_records(rule):
    # One test per sampler (not per record) keeps the run short; the message names the failing record.
    for rec in _FUNCTIONS[rule]["results"]:
        expected = rec.get("frame_numbers", rec.get("indices"))
        if expected is None:
            assert "error" in rec
            with pytest.raises(ValueError, match=rule):
                frame_indices(rule, rec["N"], **_params(rec))
            continue
        got = frame_indices(rule, rec["N"], **_params(rec))
        assert got == expected, rec
        assert all(type(i) is int for i in got)


def test_every_fixture_rule_is_registered():
    assert set(_FUNCTIONS) <= set(RULES)
    assert {"tsn", "tsn_train"} <= set(RULES)


def test_fixture_covers_short_videos_and_errors():
    # Guards the fixture copy: the quirky cases (N < T, the demo's assertion) must be in it.
    assert any(r["N"] < r["num_frames"] for r in _FUNCTIONS["umt_sparse_val"]["results"])
    assert any("error" in r for r in _FUNCTIONS["viclip_demo_stride"]["results"])


LENGTHS = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 301]


@pytest.mark.parametrize("T", [1, 4, 8, 16])
@pytest.mark.parametrize("N", LENGTHS)
def test_tsn_properties(N, T):
    idx = frame_indices("tsn", N, num_frames=T)
    assert len(idx) == T and all(type(i) is int for i in idx)
    assert all(0 <= i < N for i in idx)
    assert idx == sorted(idx)
    for i, k in enumerate(idx):  # k = floor((i + 0.5) * N / T), exactly
        assert 2 * T * k <= (2 * i + 1) * N < 2 * T * (k + 1)
    if N >= T:
        assert len(set(idx)) == T  # one distinct frame per segment
    else:
        assert len(set(idx)) == N  # repeats: every frame used, none skipped


@pytest.mark.parametrize(
    "N,T,expected",
    [
        (16, 8, [1, 3, 5, 7, 9, 11, 13, 15]),
        (8, 8, list(range(8))),
        (3, 4, [0, 1, 1, 2]),
        (1, 3, [0, 0, 0]),
        (24, 4, [3, 9, 15, 21]),
    ],
)
def test_tsn_middles_and_repeats(N, T, expected):
    assert frame_indices("tsn", N, num_frames=T) == expected


@pytest.mark.parametrize("T", [1, 3, 8])
@pytest.mark.parametrize("N", LENGTHS)
def test_tsn_train_stays_in_segments(N, T):
    idx = frame_indices("tsn_train", N, num_frames=T, rng=np.random.default_rng(N * 31 + T))
    assert len(idx) == T and all(type(i) is int for i in idx)
    assert idx == sorted(idx)
    for i, k in enumerate(idx):  # segment i is [i*N/T, (i+1)*N/T)
        assert i * N // T <= k and k * T < (i + 1) * N
        assert 0 <= k < N


def test_tsn_train_is_seeded_and_random():
    draw = [
        frame_indices("tsn_train", 300, num_frames=8, rng=np.random.default_rng(seed)) for seed in (0, 0, 1)
    ]
    assert draw[0] == draw[1]
    assert draw[0] != draw[2]


def test_tsn_train_uses_the_given_generator():
    rng = np.random.default_rng(5)
    first, second = (frame_indices("tsn_train", 300, num_frames=8, rng=rng) for _ in range(2))
    assert first != second


@pytest.mark.parametrize(
    "rule,N,params,problem",
    [
        ("no_such_rule", 10, {}, "umt_sparse_test"),  # lists the known names
        ("tsn", 0, {"num_frames": 8}, "N must be"),
        ("tsn", 10.0, {"num_frames": 8}, "N must be"),
        ("tsn", 10, {}, "missing"),
        ("tsn", 10, {"num_frames": 8, "clip": 0}, "unknown"),
        ("tsn", 10, {"num_frames": 0}, "num_frames"),
        ("tsn", 10, {"num_frames": True}, "num_frames"),
        ("umt_sparse_test", 10, {"num_frames": 8, "test_num_segment": 4, "clip": 4}, "clip"),
        ("umt_sparse_test", 10, {"num_frames": 8, "test_num_segment": 4, "clip": -1}, "clip"),
        (
            "videomae_v1_dense_test",
            10,
            {"clip_len": 16, "frame_sample_rate": 4, "test_num_segment": 1, "clip": 0},
            "test_num_segment",
        ),
        (
            "videomae_v1_ssv2_test",
            10,
            {"num_segment": 8, "test_num_segment": 3, "clip": 0},
            "test_num_segment",
        ),
        ("viclip_demo_stride", 7, {"num_frames": 8}, "N >= num_frames"),
        ("tsn_train", 10, {"num_frames": 8, "rng": 0}, "Generator"),
    ],
)
def test_bad_inputs_raise(rule, N, params, problem):
    with pytest.raises(ValueError, match=problem):
        frame_indices(rule, N, **params)


@pytest.mark.parametrize("N, T", [(100, 16), (16, 16), (10, 16), (301, 8), (7, 3)])
def test_videoprism_linspace_is_the_colabs_rule(N, T):
    """As VideoPrism's colab: np.linspace(0, N, T, endpoint=False, dtype=np.int32), here written as
    exact integers floor(i*N/T) (the same for these sizes), repeated frames when N < T."""
    got = frame_indices("videoprism_linspace", N, num_frames=T)
    assert got == [i * N // T for i in range(T)]
    assert len(got) == T and got == sorted(got) and got[0] == 0 and got[-1] < N
