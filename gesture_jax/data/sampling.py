"""Named frame samplers: which frames of an N-frame video a clip uses.

The upstream rules (UMT, VideoMAE v1/V2, ViCLIP, VideoPrism) are reproduced exactly, float quirks included
(half-to-even rounding, ``int`` truncation, ``np.linspace`` end points), because a one-frame shift
changes features. Each rule is a small function registered by name; ``frame_indices`` checks the
parameters against the function's keyword-only arguments, so a typo fails loudly instead of
silently falling back to a default.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

Sampler = Callable[..., list[int]]
_REGISTRY: dict[str, Sampler] = {}


def _rule(name: str) -> Callable[[Sampler], Sampler]:
    def register(fn: Sampler) -> Sampler:
        _REGISTRY[name] = fn
        return fn

    return register


def _check(rule: str, ok: bool, problem: str) -> None:
    if not ok:
        raise ValueError(f"frame sampler {rule!r}: {problem}")


def _check_clip(rule: str, clip: int, test_num_segment: int) -> None:
    _check(rule, clip < test_num_segment, f"clip {clip} not in [0, {test_num_segment})")


def _pad(indices: list[int], length: int) -> list[int]:
    """Repeat the last index up to ``length`` (the references' short-video padding)."""
    return indices + [indices[-1]] * (length - len(indices))


def _umt_sparse(N: int, num_frames: int, num_segments: int, clip: int) -> list[int]:
    seg = max(0.0, float(N - 1) / num_frames)
    offset = int(seg / (num_segments + 1) * (clip + 1))
    # Python round on a float is half-to-even, like np.round.
    return [min(round(seg * i) + offset, N - 1) for i in range(num_frames)]


@_rule("umt_sparse_test")
def _umt_sparse_test(N: int, *, num_frames: int, test_num_segment: int, clip: int) -> list[int]:
    """UMT test: seg=(N-1)/T; idx_i = min(round(seg*i) + int(seg/(S+1)*(clip+1)), N-1)."""
    _check_clip("umt_sparse_test", clip, test_num_segment)
    return _umt_sparse(N, num_frames, test_num_segment, clip)


@_rule("umt_sparse_val")
def _umt_sparse_val(N: int, *, num_frames: int) -> list[int]:
    """UMT validation: the test rule with one clip, i.e. offset int(seg/2)."""
    return _umt_sparse(N, num_frames, 1, 0)


def _videomae_dense(
    rule: str, N: int, clip_len: int, frame_sample_rate: int, test_num_segment: int, clip: int
) -> list[int]:
    # The reference divides by (S - 1), so a single temporal clip is a ZeroDivisionError there.
    _check(rule, test_num_segment >= 2, f"test_num_segment must be >= 2, got {test_num_segment}")
    _check_clip(rule, clip, test_num_segment)
    every = _pad(list(range(0, N, frame_sample_rate)), clip_len)
    step = max((len(every) - clip_len) / (test_num_segment - 1), 0)
    start = int(clip * step)
    return every[start : start + clip_len]


@_rule("videomae_v1_dense_test")
def _videomae_v1_dense_test(
    N: int, *, clip_len: int, frame_sample_rate: int, test_num_segment: int, clip: int
) -> list[int]:
    """VideoMAE K400 test: every rate-th frame padded to clip_len; window clip at int(clip*(M-L)/(S-1))."""
    return _videomae_dense("videomae_v1_dense_test", N, clip_len, frame_sample_rate, test_num_segment, clip)


@_rule("videomae_v2_dense_test")
def _videomae_v2_dense_test(
    N: int, *, clip_len: int, frame_sample_rate: int, test_num_segment: int, clip: int
) -> list[int]:
    """VideoMAE V2 K400 test: identical to videomae_v1_dense_test."""
    return _videomae_dense("videomae_v2_dense_test", N, clip_len, frame_sample_rate, test_num_segment, clip)


@_rule("videomae_v2_dense_val")
def _videomae_v2_dense_val(N: int, *, clip_len: int, frame_sample_rate: int) -> list[int]:
    """VideoMAE V2 validation: centred window of clip_len*rate frames, linspace-sampled.

    Short videos use linspace(0, N, N//rate), which includes N itself, padded with N; all is then
    clipped to N-1 (so the last real frame is over-represented).
    """
    span = clip_len * frame_sample_rate
    if N <= span:
        count = N // frame_sample_rate
        points = np.concatenate([np.linspace(0, N, num=count), np.full(clip_len - count, N)])
        picked = np.clip(points, 0, N - 1)
    else:
        end = (span + N) // 2
        start = end - span
        picked = np.clip(np.linspace(start, end, num=clip_len), start, end - 1)
    return [int(i) for i in picked.astype(np.int64)]


@_rule("videomae_v1_ssv2_test")
def _videomae_v1_ssv2_test(N: int, *, num_segment: int, test_num_segment: int, clip: int) -> list[int]:
    """VideoMAE v1 SSv2 test: sorted(starts int(tick*x) + middles int(tick/2+tick*x))[clip::2], tick=N/T."""
    # The reference slices [clip::2] whatever S is; for S > 2 that returns more than T frames.
    rule = "videomae_v1_ssv2_test"
    _check(rule, test_num_segment <= 2, f"test_num_segment must be 1 or 2, got {test_num_segment}")
    _check_clip(rule, clip, test_num_segment)
    tick = N / float(num_segment)
    middles = [int(tick / 2.0 + tick * x) for x in range(num_segment)]
    starts = [int(tick * x) for x in range(num_segment)]
    return sorted(middles + starts)[clip::2]


def _videomae_v2_sparse(rule: str, N: int, num_segment: int, test_num_segment: int, clip: int) -> list[int]:
    _check_clip(rule, clip, test_num_segment)
    tick = N / float(num_segment)
    S = test_num_segment
    every = sorted(int(s * tick / S + tick * x) for s in range(S) for x in range(num_segment))
    return every[clip::S]


@_rule("videomae_v2_sparse_test")
def _videomae_v2_sparse_test(N: int, *, num_segment: int, test_num_segment: int, clip: int) -> list[int]:
    """VideoMAE V2 sparse test: sorted(int(s*tick/S + tick*x) for all s, x)[clip::S], tick=N/T."""
    return _videomae_v2_sparse("videomae_v2_sparse_test", N, num_segment, test_num_segment, clip)


@_rule("videomae_v2_ssv2_rawframe_test")
def _videomae_v2_ssv2_rawframe_test(
    N: int, *, num_segment: int, test_num_segment: int, clip: int, start_idx: int
) -> list[int]:
    """VideoMAE V2 raw-frame test: the sparse rule as image FILE NUMBERS, index + start_idx."""
    picked = _videomae_v2_sparse("videomae_v2_ssv2_rawframe_test", N, num_segment, test_num_segment, clip)
    return [i + start_idx for i in picked]


@_rule("viclip_middle")
def _viclip_middle(N: int, *, num_frames: int) -> list[int]:
    """ViCLIP eval: edges=int(linspace(0,N,min(T,N)+1)); middle (e_k+e_{k+1}-1)//2; pad with the last."""
    count = min(num_frames, N)
    edges = np.linspace(0, N, count + 1).astype(int)
    return _pad([int((edges[k] + edges[k + 1] - 1) // 2) for k in range(count)], num_frames)


@_rule("viclip_demo_stride")
def _viclip_demo_stride(N: int, *, num_frames: int) -> list[int]:
    """ViCLIP demo frames2tensor: range(N)[::N//T][:T]; the demo asserts N >= T."""
    _check("viclip_demo_stride", N >= num_frames, f"the demo asserts N >= num_frames, got {N} < {num_frames}")
    return list(range(N))[:: N // num_frames][:num_frames]


@_rule("tsn")
def _tsn(N: int, *, num_frames: int) -> list[int]:
    """TSN test: middle of each of T equal segments, floor((i+0.5)*N/T) in exact integers."""
    return [(2 * i + 1) * N // (2 * num_frames) for i in range(num_frames)]


@_rule("tsn_train")
def _tsn_train(N: int, *, num_frames: int, rng: np.random.Generator) -> list[int]:
    """TSN train: floor((i+u_i)*N/T) with u_i ~ U[0,1) from rng, one frame per segment."""
    _check("tsn_train", isinstance(rng, np.random.Generator), f"rng must be a numpy Generator: {rng!r}")
    u = rng.random(num_frames)
    # Clip to the segment's last frame (N-1 for the last one): (i+u)*N/T can round up to (i+1)*N/T.
    T = num_frames
    return [min(int((i + u[i]) * N / T), ((i + 1) * N - 1) // T) for i in range(T)]


@_rule("videoprism_linspace")
def _videoprism_linspace(N: int, *, num_frames: int) -> list[int]:
    """VideoPrism's colabs (read_and_preprocess_video): np.linspace(0, N, T, endpoint=False, dtype=int32),
    i.e. floor(i*N/T) as numpy computes it; frames repeat when N < T."""
    return np.linspace(0, N, num=num_frames, endpoint=False, dtype=np.int32).tolist()


RULES: tuple[str, ...] = tuple(_REGISTRY)
_INT_PARAMS_MIN = {
    "num_frames": 1,
    "num_segment": 1,
    "clip_len": 1,
    "frame_sample_rate": 1,
    "test_num_segment": 1,
    "clip": 0,
    "start_idx": 0,
}


def rule_params(rule: str) -> frozenset[str]:
    """The keyword parameters a rule takes (so callers can fill in the clip length and clip index)."""
    if rule not in _REGISTRY:
        raise ValueError(f"unknown frame sampler {rule!r}; known: {', '.join(RULES)}")
    signature = inspect.signature(_REGISTRY[rule])
    return frozenset(p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY)


def _check_params(rule: str, fn: Sampler, params: dict) -> None:
    wanted = {p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY}
    missing, unknown = wanted - params.keys(), params.keys() - wanted
    _check(
        rule,
        not missing and not unknown,
        f"missing params {sorted(missing)}, unknown params {sorted(unknown)}; expected {sorted(wanted)}",
    )
    for name, value in params.items():
        if name in _INT_PARAMS_MIN:
            _check(
                rule,
                isinstance(value, (int, np.integer)) and not isinstance(value, bool),
                f"{name} must be an int, got {value!r}",
            )
            low = _INT_PARAMS_MIN[name]
            _check(rule, value >= low, f"{name} must be >= {low}, got {value}")


def frame_indices(rule: str, N: int, **params) -> list[int]:
    """Frames ``rule`` picks from an N-frame video: 0-based indices (file numbers for the raw-frame rule)."""
    if rule not in _REGISTRY:
        raise ValueError(f"unknown frame sampler {rule!r}; known: {', '.join(RULES)}")
    _check(
        rule,
        isinstance(N, (int, np.integer)) and not isinstance(N, bool) and N >= 1,
        f"N must be an int >= 1, got {N!r}",
    )
    fn = _REGISTRY[rule]
    _check_params(rule, fn, params)
    ints = {k: int(v) if k in _INT_PARAMS_MIN else v for k, v in params.items()}
    return [int(i) for i in fn(int(N), **ints)]
