"""Mode ``curves``: KNN accuracy against the number of real gallery videos per class, alone and mixed with
the synthetic gallery, averaged over seeds, with a plot per query split.

How many real videos is a synthetic gallery worth? Each point draws n real train videos per class
(`fewshot.sample_per_class`, one draw per seed), labels the real test videos by KNN from those alone
and from those added to the whole synthetic gallery; the synthetic gallery alone is the baseline line.
Features come from the shared cache, so the curves cost one extraction of each split.
"""

from __future__ import annotations

import os
import re
from typing import Any

import matplotlib
import ml_collections
import numpy as np

from gesture_jax import features, fewshot, knn, models, parallel, report
from gesture_jax import workdir as workdir_lib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def run(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
    cfg = config.curves
    mesh = parallel.make_mesh()
    model, spec = models.from_config(config.encoder)
    extractor = features.Extractor(model, spec, mesh)
    names = list(dict.fromkeys([cfg.synthetic_gallery, cfg.real_gallery, *cfg.queries]))
    feats, class_names = features.extract_splits(config, workdir, extractor, names)
    synthetic, real = feats[cfg.synthetic_gallery], feats[cfg.real_gallery]

    def evaluate(queries: str, gallery: features.FeatureSet, label: str, **fields: Any) -> dict[str, Any]:
        q = feats[queries]
        k = min(cfg.k, len(gallery))  # a 1-shot gallery of few classes can hold fewer than k videos
        predictions = knn.knn_classify(
            gallery.features,
            gallery.labels,
            q.features,
            k=k,
            metric=cfg.metric,
            num_classes=len(class_names),
            mesh=mesh,
        )
        return report.classification_row(
            q.labels,
            predictions,
            class_names,
            encoder=config.encoder.name,
            encoder_state="frozen",
            gallery=label,
            queries=queries,
            k=k,
            metric=cfg.metric,
            num_gallery=len(gallery),
            **fields,
        )

    rows = []
    for queries in cfg.queries:
        rows.append(evaluate(queries, synthetic, cfg.synthetic_gallery, curve="synthetic", shots=None))
        for shots in cfg.shots:
            tag = f"[{shots}/class]" if shots != fewshot.ALL else "[all]"
            for curve, base in (("real", None), ("synthetic+real", synthetic)):
                per_seed = []
                for seed in range(cfg.num_seeds if shots != fewshot.ALL else 1):  # "all" draws nothing
                    index = fewshot.sample_per_class(real.labels, shots, seed)
                    gallery = features.FeatureSet(real.features[index], real.labels[index], real.ids[index])
                    if base is not None:
                        gallery = features.FeatureSet.concatenate([base, gallery])
                    label = (
                        cfg.real_gallery + tag
                        if base is None
                        else f"{cfg.synthetic_gallery}+{cfg.real_gallery}{tag}"
                    )
                    per_seed.append(evaluate(queries, gallery, label, curve=curve, shots=shots))
                rows.append(fewshot.aggregate(per_seed))
                report.log_row(rows[-1])

    title = f"Few-shot and mixed galleries, frozen {config.encoder.name} features"
    if parallel.is_main_process():
        report.write(workdir, rows, title=title)  # results.json and the confusion matrices
        plots = [_plot(workdir, [r for r in rows if r["queries"] == q], q, cfg) for q in cfg.queries]
        summary = _markdown(rows, cfg, plots, title)
        detail = report.markdown(rows, title=title).split("## All rows", 1)[1]
        workdir_lib.write_text(os.path.join(workdir, report.RESULTS_MD), summary + "## All rows" + detail)
        print(summary.strip())
    return rows


def _label(shots: int) -> str:
    return "all" if shots == fewshot.ALL else str(shots)


def _markdown(rows: list[dict[str, Any]], cfg, plots: list[str], title: str) -> str:
    lines = [f"# {title}", ""]
    for queries, plot in zip(cfg.queries, plots):
        group = [r for r in rows if r["queries"] == queries]
        baseline = next(r for r in group if r["curve"] == "synthetic")
        lines += [
            f"## Accuracy (%) on `{queries}`, KNN k={cfg.k}, {cfg.metric}, "
            f"mean ± std over {cfg.num_seeds} draws",
            "",
            f"Synthetic gallery `{cfg.synthetic_gallery}` alone: {100 * baseline['accuracy']:.1f}.",
            "",
            f"| real videos per class (`{cfg.real_gallery}`) | real only | synthetic + real |",
            "|---:|---:|---:|",
        ]
        for shots in cfg.shots:
            cells = [
                f"{100 * r['accuracy']:.1f} ± {100 * r['accuracy_std']:.1f}"
                for curve in ("real", "synthetic+real")
                for r in group
                if r["curve"] == curve and r["shots"] == shots
            ]
            lines.append(f"| {_label(shots)} | " + " | ".join(cells) + " |")
        lines += ["", f"![curves]({plot})", ""]
    return "\n".join(lines) + "\n"


def _plot(out_dir: str, group: list[dict[str, Any]], queries: str, cfg) -> str:
    x = np.arange(len(cfg.shots))
    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=100)
    for curve, style in (("real", "o-"), ("synthetic+real", "s-")):
        points = [next(r for r in group if r["curve"] == curve and r["shots"] == s) for s in cfg.shots]
        ax.errorbar(
            x,
            [100 * p["accuracy"] for p in points],
            yerr=[100 * p["accuracy_std"] for p in points],
            fmt=style,
            capsize=3,
            label=f"{curve} gallery",
        )
    baseline = next(r for r in group if r["curve"] == "synthetic")
    ax.axhline(100 * baseline["accuracy"], color="gray", linestyle="--", label="synthetic gallery only")
    ax.set_xticks(x, [_label(s) for s in cfg.shots])
    ax.set_xlabel("real gallery videos per class")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(queries, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    name = "curves_" + re.sub(r"[^A-Za-z0-9_.-]+", "-", queries).strip("-") + ".png"
    workdir_lib.write_with(os.path.join(out_dir, name), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return name
