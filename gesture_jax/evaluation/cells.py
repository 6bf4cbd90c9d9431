"""How a number is shown in a report: a percentage with its 95% interval, a paired difference with its
interval, and never a zero-width interval passed off as certainty."""

from __future__ import annotations

from collections.abc import Sequence

from gesture_jax.analysis import stats

DEGENERATE = "†"
DEGENERATE_NOTE = (
    f"{DEGENERATE} The bootstrap interval had no width here (every class's videos all right or all wrong, "
    "or all alike): that is not certainty. Shown instead is the exact binomial (Clopper–Pearson) 95% "
    "interval of the accuracy over its videos, or, for a number that is not a proportion of videos, "
    '"no spread".'
)


def percent(value: float, ci: Sequence[float] | None = None, n: int | None = None) -> str:
    """'42.4 [32.3–52.5]' (accuracy % and its 95% interval). A zero-width interval is never shown as
    certainty: with `n` (the videos the accuracy is a proportion of), the exact binomial interval, marked
    `DEGENERATE`; without, "no spread" marked so."""
    text = f"{100 * value:.1f}"
    if ci is None:
        return text
    lo, hi = ci
    if not hi - lo <= 0:  # a real interval (or nan, shown as it is)
        return f"{text} [{100 * lo:.1f}–{100 * hi:.1f}]"
    if n:
        lo, hi = stats.exact_binomial_ci(round(value * n), n)
        return f"{text} [{100 * lo:.1f}–{100 * hi:.1f}]{DEGENERATE}"
    return f"{text} [no spread{DEGENERATE}]"


def difference(c: dict) -> str:
    """A paired comparison's a − b in points with its interval; two rows right on exactly the same videos
    say so rather than show a zero-width interval."""
    d, (lo, hi) = 100 * c["difference"], c["ci95"]
    if hi - lo > 0:
        return f"{d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    return "+0.0 (right on the same videos)" if d == 0 else f"{d:+.1f} [no spread{DEGENERATE}]"
