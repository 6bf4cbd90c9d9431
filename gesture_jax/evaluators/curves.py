"""Few-shot and mixing curves (``config.curves``): KNN accuracy against the number of real gallery videos
per class, alone and mixed with the synthetic gallery, averaged over seeds, with a plot per query split.

How many real videos is a synthetic gallery worth? Each point draws n real train videos per class
(`method_rows.sample_per_class`: one draw per seed, nested across n), labels the real test videos by KNN
from those alone and from those added to the whole synthetic gallery; the synthetic gallery alone is the
baseline line.
Features come from the shared cache, so the curves cost one extraction of each split.
"""

from __future__ import annotations

import dataclasses
import os
import re

import matplotlib
import numpy as np

from gesture_jax.analysis import real_equivalent
from gesture_jax.evaluation import cells, method_rows, report, scoring
from gesture_jax.evaluation.engine import EncoderState, EvalOutput
from gesture_jax.infra import storage

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def run(ctx, state: EncoderState) -> EvalOutput:
    cfg = ctx.block("curves", evaluator="curves")
    names = [cfg.synthetic_gallery, cfg.real_gallery, *cfg.queries]
    class_names = ctx.class_names(names)
    vectors = ctx.vectors(names, state.extractor, key_extra=state.key_extra)
    synthetic, real = vectors[cfg.synthetic_gallery], vectors[cfg.real_gallery]
    common = dict(k=cfg.k, metric=cfg.metric, class_names=class_names, mesh=ctx.mesh)

    rows = []
    for queries in cfg.queries:
        key = state.key(ctx.encoder_name, queries=queries)
        synthetic_key = dataclasses.replace(key, gallery=cfg.synthetic_gallery, curve="synthetic")
        rows.append(method_rows.knn_row(synthetic, vectors[queries], **common, key=synthetic_key))
        for shots in cfg.shots:
            tag = f"[{shots}/class]" if shots != method_rows.ALL else "[all]"
            for curve, base in (("real", None), ("synthetic+real", synthetic)):
                gallery = (
                    cfg.real_gallery if base is None else f"{cfg.synthetic_gallery}+{cfg.real_gallery}"
                ) + tag
                rows.append(
                    method_rows.fewshot_row(
                        real,
                        vectors[queries],
                        shots=shots,
                        num_seeds=cfg.num_seeds,
                        base=base,
                        **common,
                        key=dataclasses.replace(key, gallery=gallery, curve=curve),
                    )
                )
                scoring.log(rows[-1])

    title = f"Few-shot and mixed galleries, {state.name} {ctx.encoder_name} features"
    sections, artifacts = [], []
    if ctx.is_main:
        equivalents = {}
        for queries in cfg.queries:
            group = [r for r in rows if r.queries == queries]
            equivalents[queries] = _equivalent(group, cfg, real)
            plot = _plot(ctx.workdir, group, queries, cfg)
            sections.append((f"curves {queries}", _markdown(group, cfg, queries, plot, equivalents[queries])))
            artifacts.append(plot)
        storage.write_json(os.path.join(ctx.workdir, REAL_EQUIVALENT_JSON), equivalents)
        artifacts.append(REAL_EQUIVALENT_JSON)
    return EvalOutput(rows, sections, artifacts=artifacts, title=title, note=NOTE, compare=False)


REAL_EQUIVALENT_JSON = "real_equivalent.json"

NOTE = (
    "Points are means over random real-gallery draws with 95% intervals that resample both the draws and "
    "the query videos; overlapping intervals do not separate the curves."
)


def _label(shots: int) -> str:
    return "all" if shots == method_rows.ALL else str(shots)


def _point(rows: list[scoring.Row], curve: str, shots) -> scoring.Row:
    return next(r for r in rows if r.key.curve == curve and r.key.shots == shots)


def _equivalent(group: list[scoring.Row], cfg, real) -> dict:
    """The synthetic gallery's real-video equivalent on the real-only curve; `all` sits at the real
    gallery's mean videos per class (left out when that is not beyond the largest drawn count)."""
    baseline = _point(group, "synthetic", None)
    points = sorted(
        (float(np.bincount(real.labels).mean()) if s == method_rows.ALL else float(s), s) for s in cfg.shots
    )
    points = [(x, s) for i, (x, s) in enumerate(points) if i == 0 or x > points[i - 1][0]]
    return real_equivalent.real_video_equivalent(
        [x for x, _ in points],
        [_point(group, "real", s).correct for _, s in points],
        baseline.correct,
        strata=baseline.labels,
        seed=0,
    )


def _markdown(group: list[scoring.Row], cfg, queries: str, plot: str, equivalent: dict) -> str:
    baseline = _point(group, "synthetic", None)
    alone = report.accuracy(baseline)
    lines = [
        f"## Accuracy (%) on `{queries}`, KNN k={cfg.k}, {cfg.metric}: mean over {cfg.num_seeds} draws "
        "[95% interval over draws and queries]",
        "",
        f"Synthetic gallery `{cfg.synthetic_gallery}` alone: {alone}.",
        "",
        f"| real videos per class (`{cfg.real_gallery}`) | real only | synthetic + real |",
        "|---:|---:|---:|",
        f"| 0 (synthetic only) | – | {alone} |",
    ]
    for shots in cfg.shots:
        points = [_point(group, curve, shots).metrics for curve in ("real", "synthetic+real")]
        lines.append(
            f"| {_label(shots)} | "
            + " | ".join(cells.percent(m["accuracy"], m["accuracy_ci95"]) for m in points)
            + " |"
        )
    n, (lo, hi) = equivalent["real_videos_per_class"], equivalent["ci95"]
    value = {
        "below": f"fewer than {n:.1f} real videos per class (the curve's first point already beats it)",
        "above": f"more than {n:.1f} real videos per class (it beats every point of the real curve)",
    }.get(equivalent["where"], f"{n:.1f} real videos per class")
    lines += [
        "",
        f"Real-video equivalent of the synthetic gallery: {value} [95% interval "
        f"{lo:.1f}–{hi:.1f}, resampling the queries within classes, clipped to the curve's range: "
        f"{100 * equivalent['resamples_below']:.0f}% of resamples below its first point, "
        f"{100 * equivalent['resamples_above']:.0f}% above its last] ({REAL_EQUIVALENT_JSON}).",
    ]
    lines += ["", f"![curves]({plot})", ""]
    return "\n".join(lines) + "\n"


def _plot(out_dir: str, group: list[scoring.Row], queries: str, cfg) -> str:
    """Accuracy against real videos per class; bars are the rows' 95% intervals (draws and queries)."""
    x = np.arange(len(cfg.shots))
    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=100)
    for offset, (curve, style) in zip((-0.06, 0.06), (("real", "o-"), ("synthetic+real", "s-"))):
        m = [_point(group, curve, s).metrics for s in cfg.shots]
        mean = np.array([100 * p["accuracy"] for p in m])
        ci = 100 * np.array([p["accuracy_ci95"] for p in m])
        yerr = np.stack([mean - ci[:, 0], ci[:, 1] - mean])
        ax.errorbar(x + offset, mean, yerr=yerr, fmt=style, capsize=3, label=f"{curve} gallery")
    baseline = _point(group, "synthetic", None).metrics
    ax.axhline(100 * baseline["accuracy"], color="gray", linestyle="--", label="synthetic gallery only")
    lo, hi = (100 * v for v in baseline["accuracy_ci95"])
    ax.axhspan(lo, hi, color="gray", alpha=0.15, label="its 95% interval")
    ax.set_xticks(x, [_label(s) for s in cfg.shots])
    ax.set_xlabel("real gallery videos per class")
    ax.set_ylabel("accuracy (%), 95% interval")
    ax.set_title(queries, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    name = "curves_" + re.sub(r"[^A-Za-z0-9_.-]+", "-", queries).strip("-") + ".png"
    storage.write_with(os.path.join(out_dir, name), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return name
