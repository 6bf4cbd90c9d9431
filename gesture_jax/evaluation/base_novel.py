"""Base-to-novel reporting: accuracy on the classes an encoder was fine-tuned on ("seen") and on the ones
held out ("novel"), their harmonic mean, and how both move as the weights are interpolated from the
frozen encoder (α = 0) to the fine-tuned one (α = 1).

Each class subset is its own task, as in CoOp/CoCoOp's base-to-novel protocol: its query videos are
classified among its classes only (galleries and probes restricted to them), so a novel-class row says
how well the features separate classes the fine-tuning never saw, not how often they get mistaken for
seen ones. Rows carry ``class_subset`` and ``alpha`` in their settings; `harmonic_means` pairs each
seen row with the novel row of the same encoder state, method and gallery. The harmonic mean punishes
a gain on one side bought by a loss on the other, which a plain mean hides.
"""

from __future__ import annotations

import dataclasses
import textwrap
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

from gesture_jax.analysis import stats
from gesture_jax.evaluation import cells, report, scoring
from gesture_jax.features.extraction import VideoVectors

SUBSETS = ("seen", "novel")
PLOT_FILE = "interpolation.png"


def restrict(v: VideoVectors, classes: Sequence[int]) -> VideoVectors:
    """The videos of `classes` only."""
    keep = np.isin(v.labels, classes)
    return v.take(keep)


def subset_queries(split: str, subset: str) -> str:
    """The query column of a class subset's rows, so seen and novel rows get their own tables."""
    return f"{split} ({subset} classes)"


def _panel(row: scoring.Row) -> tuple[str, str, str]:
    """What stays fixed along a curve: the method as the table shows it (without the state), the gallery
    and the query split (without the class subset)."""
    if row.key.class_subset and not row.query_split:
        raise ValueError(f"row {row.id} scores a class subset but names no query_split to pair it by")
    return report.method_labels(row)[0], row.gallery, row.query_split or row.queries


def focused(rows: Sequence[scoring.Row], comparisons: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The comparisons a fine-tuning run is about: one method and gallery across encoder states (the
    intervention), and one state and method across galleries (synthetic vs real); not every pair that
    happens to share a gallery."""
    by_id = {r.id: r for r in rows}
    out = []
    for c in comparisons:
        a, b = by_id[c["a"]], by_id[c["b"]]
        (method_a, gallery_a, _), (method_b, gallery_b, _) = _panel(a), _panel(b)
        same_state = report.state_label(a) == report.state_label(b)
        if method_a == method_b and (gallery_a == gallery_b) != same_state:
            out.append(c)
    return out


@dataclasses.dataclass(frozen=True)
class HarmonicMean:
    """A seen row and the novel row of the same encoder state, α, method and gallery (results.json
    ``harmonic_mean``, one entry each): both accuracies, their harmonic mean, and 95% intervals."""

    encoder_state: str
    alpha: float | None
    method: str  # the method as the summary table shows it
    gallery: str
    queries: str  # the query split, without the class subset
    seen: float
    novel: float
    harmonic_mean: float
    seen_ci95: list[float]
    novel_ci95: list[float]
    harmonic_mean_ci95: list[float]
    seen_row: str  # the rows' ids
    novel_row: str

    @property
    def panel(self) -> tuple[str, str, str]:
        return self.method, self.gallery, self.queries

    @property
    def label(self) -> str:
        """What fine-tuning's final.json names the entry by."""
        return f"{self.encoder_state} α={self.alpha:g} | {self.method} | {self.gallery} → {self.queries}"


def harmonic_means(rows: Sequence[scoring.Row]) -> list[HarmonicMean]:
    """One entry per (encoder state, α, method, gallery) that has both a seen and a novel headline row
    scored once (not over gallery draws)."""
    pairs: dict[tuple, dict[str, scoring.Row]] = {}
    for r in rows:
        subset = r.key.class_subset
        if subset in SUBSETS and r.pairable:
            key = (r.encoder_state, r.key.alpha, *_panel(r))
            pairs.setdefault(key, {})[subset] = r
    out = []
    for (state, alpha, method, gallery, queries), pair in pairs.items():
        if set(pair) != set(SUBSETS):
            continue
        seen, novel = pair["seen"], pair["novel"]
        s, n = seen.metrics["accuracy"], novel.metrics["accuracy"]
        interval = stats.harmonic_mean_ci(
            seen.correct, novel.correct, strata_seen=seen.labels, strata_novel=novel.labels
        )
        out.append(
            HarmonicMean(
                state,
                alpha,
                method,
                gallery,
                queries,
                seen=s,
                novel=n,
                harmonic_mean=float(stats.harmonic_mean(s, n)),
                seen_ci95=seen.metrics["accuracy_ci95"],
                novel_ci95=novel.metrics["accuracy_ci95"],
                harmonic_mean_ci95=list(interval),
                seen_row=seen.id,
                novel_row=novel.id,
            )
        )
    return out


def _curves(rows: Sequence[scoring.Row], entries: Sequence[HarmonicMean]) -> dict[tuple, dict[str, list]]:
    """(method, gallery) → {line name: [(α, accuracy, (lo, hi))]}: seen, novel and harmonic mean where
    the run holds classes out, else one line over all classes."""
    panels: dict[tuple, dict[str, list]] = {}
    for r in rows:
        if r.key.alpha is not None and r.pairable:
            line = r.key.class_subset or "all classes"
            point = (r.key.alpha, r.metrics["accuracy"], tuple(r.metrics["accuracy_ci95"]))
            panels.setdefault(_panel(r), {}).setdefault(line, []).append(point)
    for e in entries:
        point = (e.alpha, e.harmonic_mean, tuple(e.harmonic_mean_ci95))
        panels.setdefault(e.panel, {}).setdefault("harmonic mean", []).append(point)
    return {
        key: {name: sorted(points) for name, points in lines.items()}
        for key, lines in panels.items()
        if any(len({p[0] for p in points}) > 1 for points in lines.values())  # a curve, not one α
    }


def plot_interpolation(path: str, rows: Sequence[scoring.Row], entries: Sequence[HarmonicMean]) -> bool:
    """Accuracy against α (0 = frozen, 1 = fine-tuned), one panel per method and gallery, with 95%
    intervals; False (and no file) when no row has more than one α."""
    panels = _curves(rows, entries)
    if not panels:
        return False
    cols = min(3, len(panels))
    rows_n = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(5.0 * cols, 4.0 * rows_n), dpi=100, squeeze=False)
    styles = {"seen": "C0", "novel": "C1", "harmonic mean": "C2", "all classes": "C0"}
    for ax, ((method, gallery, queries), lines) in zip(axes.flat, panels.items()):
        for i, (name, points) in enumerate(lines.items()):
            a, acc, ci = (np.array(x, dtype=float) for x in zip(*points))
            err = np.abs(np.stack([acc - ci[:, 0], ci[:, 1] - acc])) * 100
            shift = 0.012 * (i - (len(lines) - 1) / 2)  # side by side: no interval hides another
            ax.errorbar(
                a + shift, acc * 100, yerr=err, marker="o", capsize=3, label=name, color=styles.get(name)
            )
        # Wrapped, so long split names never run into the next panel's title.
        title = "\n".join(textwrap.wrap(f"{method}; gallery {gallery} → {queries}", 52))
        ax.set_title(title, fontsize=7)
        ax.set_xlabel("α (0 = frozen, 1 = fine-tuned)")
        ax.set_ylabel("accuracy % [95%]")
        ax.set_ylim(-2, 104)  # 0 and 100% points sit inside the frame, not on it
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    report.save_figure(path, fig)
    return True


def section(entries: Sequence[HarmonicMean], plot_file: str | None) -> str:
    """results.md: seen, novel and harmonic mean per encoder state, one table per method and gallery (only
    the curves' picture for a run without held-out classes)."""
    if not entries:
        return f"## Accuracy against α\n\n![accuracy against α]({plot_file})\n" if plot_file else ""
    lines = [
        "## Seen vs novel classes (harmonic mean)",
        "",
        "Accuracy % [95% interval] on the real test videos of the classes used in fine-tuning (seen) and "
        "of the held-out ones (novel), each classified among its own classes; the harmonic mean's interval "
        "resamples both query sets. α interpolates the weights: 0 = frozen, 1 = fine-tuned.",
        "",
    ]
    if plot_file:
        lines += [f"![accuracy against α]({plot_file})", ""]
    for panel in dict.fromkeys(e.panel for e in entries):
        method, gallery, queries = panel
        lines += [
            f"**{method}**, gallery `{gallery}` → `{queries}`",
            "",
            "| encoder state | α | seen | novel | harmonic mean |",
            "|---|---:|---:|---:|---:|",
        ]
        for e in sorted((e for e in entries if e.panel == panel), key=lambda e: e.alpha):
            lines.append(
                f"| {e.encoder_state} | {e.alpha:g} | {cells.percent(e.seen, e.seen_ci95)} | "
                f"{cells.percent(e.novel, e.novel_ci95)} | "
                f"{cells.percent(e.harmonic_mean, e.harmonic_mean_ci95)} |"
            )
        lines.append("")
    return "\n".join(lines)
