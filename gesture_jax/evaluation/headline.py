"""The headline block that opens results.md: what the run found, generated from its rows.

1. The comparisons the run is about, its *focus* (an evaluator names them: the first configured gallery
   against the second with the paper's KNN, synthetic against real; fine-tuned against frozen): the
   difference in accuracy points with its paired 95% interval and exact McNemar p, and whether these
   query videos can tell the two apart (the interval excludes 0).
2. Per query split and column (a gallery, a prompt set, a classifier head) of several rows, the best
   headline row with its interval, and its lead over the next: their paired difference with its interval
   (not established while that holds 0), or, for rows over gallery draws, whether the intervals are apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gesture_jax.evaluation import cells, paired_comparisons, report, scoring


def section(
    rows: Sequence[scoring.Row], comparisons: Sequence[dict[str, Any]], focus: Sequence[tuple[str, str]]
) -> str:
    """The markdown block ("" for a run without rows)."""
    by_id = {r.id: r for r in rows}
    lines = []
    for a_id, b_id in focus:
        a, b = by_id[a_id], by_id[b_id]
        found = [c for c in comparisons if (c["a"], c["b"]) == (a_id, b_id)]
        lines.append(_finding(a, b, found[0] if found else paired_comparisons.compare(a, b)))
    lines += _best(rows)
    return "## Headline\n\n" + "\n".join(lines).lstrip("\n") + "\n" if lines else ""


def _finding(a: scoring.Row, b: scoring.Row, c: dict[str, Any]) -> str:
    lo, hi = c["ci95"]
    first, second, shared = _contrast(a, b)
    what = f"- {first} − {second}" + (f" ({shared})" if shared else "") + f" on `{a.queries}`"
    if _same_videos(c):
        return f"{what}: no difference, right on the same videos."
    if lo > 0 or hi < 0:
        verdict = (
            f"the interval excludes 0: {first if c['difference'] > 0 else second} is better on these videos"
        )
    else:
        verdict = f"the interval includes 0: these {len(a.labels)} videos cannot tell the two apart"
    return (
        f"{what}: **{100 * c['difference']:+.1f} points** [{100 * lo:+.1f}, {100 * hi:+.1f}], McNemar p "
        f"{c['mcnemar_p']:.3g}; {verdict}."
    )


def _contrast(a: scoring.Row, b: scoring.Row) -> tuple[str, str, str]:
    """What differs between the two rows, for each, and what they share."""
    parts = [
        ("gallery", lambda r: f"`{r.gallery}`"),
        ("state", lambda r: f"{report.state_label(r)} {r.experiment or r.encoder}"),
        ("method", lambda r: report.method_labels(r)[0]),
    ]
    differ = [show for _, show in parts if show(a) != show(b)] or [parts[0][1]]
    shared = [show(a) for _, show in parts if show not in differ]
    return ", ".join(s(a) for s in differ), ", ".join(s(b) for s in differ), "; ".join(shared)


def _best(rows: Sequence[scoring.Row]) -> list[str]:
    """Per query split, a table: each gallery's best row, and whether its lead over the next holds."""
    # The best of a grid on the queries is no choice a reader could make, and a later seed repeats the
    # first: neither is "best" here.
    headline = [
        r for r in rows if r.headline and len(r.labels) and not {"query_oracle", "other_seed"} & set(r.roles)
    ]
    several = len({(r.experiment, r.encoder, report.state_label(r)) for r in headline}) > 1
    lines = []
    for queries in dict.fromkeys(r.queries for r in headline):
        group = [r for r in headline if r.queries == queries]
        columns = [[r for r in group if r.gallery == g] for g in dict.fromkeys(r.gallery for r in group)]
        columns = [c for c in columns if len(c) > 1]  # a column of one row has no best to name
        if not columns:
            continue
        lines += [
            "",
            f"Best per column on `{queries}` ({len(group[0].labels)} videos):",
            "",
            "| column | best | accuracy % [95%] | its lead over the next |",
            "|---|---|---:|---|",
        ]
        for column in columns:
            ranked = sorted(column, key=lambda r: -r.metrics["accuracy"])
            best = ranked[0]
            name = report.table_label if several else (lambda r: report.method_labels(r)[0])
            lead = _lead(best, ranked[1], name)
            lines.append(
                f"| {report.column_label(column)} | {name(best)} | {report.accuracy(best)} | {lead} |"
            )
    return lines


def _lead(best: scoring.Row, next_: scoring.Row, name) -> str:
    """The best row's lead over the next: their paired difference where both score the same videos once,
    else whether their intervals are apart."""
    try:
        c = paired_comparisons.compare(best, next_)
    except ValueError:  # over gallery draws, or other videos: no paired test
        a, b = best.metrics.get("accuracy_ci95"), next_.metrics.get("accuracy_ci95")
        apart = a is not None and b is not None and a[0] > b[1]
        return f"over {name(next_)}: " + (
            "the intervals are apart" if apart else "not established (intervals overlap)"
        )
    if _same_videos(c):
        return f"ties with {name(next_)}: right on the same videos"
    verdict = "" if c["ci95"][0] > 0 else ", not established"
    return f"{cells.difference(c)} points over {name(next_)}{verdict}"


def _same_videos(c: dict[str, Any]) -> bool:
    """Two rows right on exactly the same videos: a zero difference with no spread."""
    return c["difference"] == 0 and c["ci95"][0] == c["ci95"][1]
