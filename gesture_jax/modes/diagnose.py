"""Mode ``diagnose``: how far the synthetic videos sit from the real ones in an encoder's feature space.

From the cached features of a synthetic gallery, a real gallery and real query videos (no re-extraction
once a knn or curves run has cached them): the paper's KNN with each gallery and with both together
(rows with intervals, paired comparisons), the domain-gap numbers of `gesture_jax.domain` for each pair
of splits (MMD² with a permutation p-value, Fréchet distance, proxy A-distance, per-class centroid gaps),
where the real queries' neighbours in the mixed gallery come from, and a 2-D t-SNE picture.

Outputs in the workdir besides the report: ``domain_gap.json`` (every number, keyed by encoder and split
pair) and ``embedding_<encoder>.png``. Sets larger than ``diagnose.max_points`` are subsampled
deterministically (`domain.subsample`, seed ``diagnose.seed``) for the gap numbers and the picture; the
KNN rows always use every video.
"""

from __future__ import annotations

import os

import matplotlib
import ml_collections
import numpy as np

from gesture_jax import domain, knn, protocol, report, storage
from gesture_jax.features import VideoVectors
from gesture_jax.run_context import RunContext

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOMAIN_GAP_JSON = "domain_gap.json"


def run(config: ml_collections.ConfigDict, workdir: str) -> list[protocol.Row]:
    cfg = config.diagnose
    ctx = RunContext.create(config, workdir)
    names = [cfg.synthetic, cfg.real_gallery, cfg.queries]
    class_names = ctx.class_names(names)
    vectors = ctx.vectors(names)
    synthetic, real, queries = (vectors[n] for n in names)
    mixed_name = f"{cfg.synthetic}+{cfg.real_gallery}"
    mixed = VideoVectors.concatenate([synthetic, real])

    rows = []
    describe = {"encoder": ctx.encoder_name, "encoder_state": "frozen", "queries": cfg.queries}
    for name, gallery in ((cfg.synthetic, synthetic), (cfg.real_gallery, real), (mixed_name, mixed)):
        rows.append(
            protocol.knn_row(
                gallery,
                queries,
                k=cfg.k,
                metric=cfg.metric,
                class_names=class_names,
                mesh=ctx.mesh,
                describe={**describe, "gallery": name},
            )
        )
        protocol.log(rows[-1])

    gap = {
        "metric": cfg.metric,
        "subsample": {
            "max_points": cfg.max_points,
            "seed": cfg.seed,
            "rule": "sets larger than max_points: that many rows drawn without replacement, sorted",
        },
        "pairs": {},
    }
    for a, b in (
        (cfg.synthetic, cfg.queries),
        (cfg.real_gallery, cfg.queries),
        (cfg.synthetic, cfg.real_gallery),
    ):
        gap["pairs"][f"{a} | {b}"] = _pair_numbers(vectors[a], vectors[b], class_names, cfg)
    neighbours = knn.knn_neighbours(mixed.vectors, queries.vectors, k=cfg.k, metric=cfg.metric, mesh=ctx.mesh)
    is_synthetic = np.arange(len(mixed)) < len(synthetic)
    provenance = domain.neighbour_provenance(neighbours, is_synthetic, mixed.labels, queries.labels)
    gap["neighbour_provenance"] = {f"{mixed_name} → {cfg.queries}": provenance}
    body = {"encoders": {ctx.encoder_name: gap}}

    sections = []
    if ctx.is_main:
        storage.write_json(os.path.join(workdir, DOMAIN_GAP_JSON), body)
        picture = _plot(
            workdir,
            ctx.encoder_name,
            [(cfg.synthetic, synthetic), (cfg.real_gallery, real), (cfg.queries, queries)],
            class_names,
            cfg,
        )
        sections.append(("domain gap", _markdown(gap, mixed_name, cfg, picture)))
    ctx.publish(
        report.Results(
            f"Domain gap of frozen {ctx.encoder_name} features",
            rows,
            protocol.comparisons(rows, report.table_label),
            sections=sections,
        )
    )
    return rows


def _pair_numbers(a: VideoVectors, b: VideoVectors, class_names, cfg) -> dict:
    ia = domain.subsample(len(a), cfg.max_points, cfg.seed)
    ib = domain.subsample(len(b), cfg.max_points, cfg.seed)
    x, y = domain.as_metric(a.vectors[ia], cfg.metric), domain.as_metric(b.vectors[ib], cfg.metric)
    test = domain.mmd2_test(x, y, num_permutations=cfg.num_permutations, seed=cfg.seed)
    return {
        "n_a": int(len(x)),
        "n_b": int(len(y)),
        "mmd2": test["mmd2"],
        "mmd2_p_value": test["p_value"],
        "mmd2_bandwidth": test["bandwidth"],
        "num_permutations": test["num_permutations"],
        "frechet": domain.frechet_distance(x, y),
        "proxy_a_distance": domain.proxy_a_distance(x, y, seed=cfg.seed),
        "class_gaps": domain.class_gaps(x, a.labels[ia], y, b.labels[ib], class_names),
    }


def _markdown(gap: dict, mixed_name: str, cfg, picture: str) -> str:
    lines = [
        "## Domain gap",
        "",
        f"Features as the `{cfg.metric}` metric sees them; sets above {cfg.max_points} videos subsampled "
        f"(seed {cfg.seed}). MMD² is unbiased (RBF kernel, median-distance bandwidth; p from "
        f"{cfg.num_permutations} permutations); the proxy A-distance is 2(1 − 2·error) of a linear domain "
        "classifier, 0 when the sets cannot be told apart and 2 when they always can.",
        "",
        "| a | b | n a / b | MMD² | p | Fréchet | proxy A-distance |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for key, p in gap["pairs"].items():
        a, b = key.split(" | ")
        lines.append(
            f"| `{a}` | `{b}` | {p['n_a']} / {p['n_b']} | {p['mmd2']:.4f} | {p['mmd2_p_value']:.3g} | "
            f"{p['frechet']:.4g} | {p['proxy_a_distance']:.2f} |"
        )
    for key, p in gap["neighbour_provenance"].items():
        lines += [
            "",
            f"Neighbours of the real queries in the mixed gallery ({key}, k={p['k']}): "
            f"{100 * p['synthetic_share']:.1f}% synthetic; of the query's class: "
            f"{100 * p['same_class_share_of_synthetic']:.1f}% of the synthetic ones, "
            f"{100 * p['same_class_share_of_real']:.1f}% of the real ones.",
        ]
    lines += ["", f"![t-SNE of the features]({picture})"]
    return "\n".join(lines) + "\n"


def _plot(workdir: str, encoder: str, sets, class_names, cfg) -> str:
    """t-SNE (scikit-learn) of the subsampled sets together: colour = class, marker = split."""
    from sklearn.manifold import TSNE

    parts, labels, which = [], [], []
    for i, (_, v) in enumerate(sets):
        index = domain.subsample(len(v), cfg.embedding_points, cfg.seed)
        parts.append(domain.as_metric(v.vectors[index], cfg.metric))
        labels.append(v.labels[index])
        which.append(np.full(len(index), i))
    points = np.concatenate(parts)
    labels, which = np.concatenate(labels), np.concatenate(which)
    perplexity = float(min(30.0, max(2.0, (len(points) - 1) / 3)))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=cfg.seed).fit_transform(points)
    fig, ax = plt.subplots(figsize=(8, 6.5))
    colours = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    markers = ("o", "^", "s")
    for i, (name, _) in enumerate(sets):
        for c in range(len(class_names)):
            keep = (which == i) & (labels == c)
            filled = dict(facecolors=colours(c % colours.N)) if i else dict(facecolors="none")
            ax.scatter(
                xy[keep, 0],
                xy[keep, 1],
                s=18,
                marker=markers[i % 3],
                edgecolors=colours(c % colours.N),
                linewidths=0.8,
                **filled,
            )
    class_handles = [
        plt.Line2D([], [], ls="", marker="o", color=colours(c % colours.N), label=n)
        for c, n in enumerate(class_names)
    ]
    split_handles = [
        plt.Line2D(
            [], [], ls="", marker=markers[i % 3], color="0.3", mfc="none" if i == 0 else "0.3", label=name
        )
        for i, (name, _) in enumerate(sets)
    ]
    first = ax.legend(
        handles=class_handles, title="class", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8
    )
    ax.add_artist(first)
    ax.legend(handles=split_handles, title="split", loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=8)
    ax.set_title(f"t-SNE of frozen {encoder} features ({cfg.metric})")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    name = f"embedding_{encoder}.png"
    storage.write_with(os.path.join(workdir, name), lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)
    return name
