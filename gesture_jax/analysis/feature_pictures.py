"""Pictures of a feature space for mode diagnose: a 2-D t-SNE of several splits together, and a contact
sheet of the real queries a synthetic gallery gets wrong beside their nearest synthetic neighbours.

t-SNE comes from scikit-learn (already a dependency for the domain classifier and the probes) rather
than UMAP: umap-learn would add numba and pynndescent for a picture, and t-SNE with a fixed seed and PCA
initialisation is deterministic on one machine. Either only shows neighbourhoods; distances between
far-apart clusters mean little, which is why the numbers in ``domain_gap.json`` exist.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import matplotlib
import numpy as np

from gesture_jax.analysis import domain
from gesture_jax.data import frames
from gesture_jax.features.extraction import VideoVectors
from gesture_jax.infra import storage

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_MARKERS = ("o", "^", "s", "D", "v", "P")


def embedding_plot(
    path: str,
    sets: Sequence[tuple[str, VideoVectors]],
    class_names: Sequence[str],
    *,
    metric: str,
    max_points: int,
    seed: int,
    title: str,
) -> None:
    """t-SNE of at most `max_points` rows of each named set (`domain.subsample`), as `metric` sees them:
    colour = class, marker = set (the first hollow: the synthetic gallery), two legends beside the axes."""
    from sklearn.manifold import TSNE

    parts, labels, which = [], [], []
    for i, (_, v) in enumerate(sets):
        index = domain.subsample(len(v), max_points, seed)
        parts.append(domain.as_metric(v.vectors[index], metric))
        labels.append(v.labels[index])
        which.append(np.full(len(index), i))
    points = np.concatenate(parts)
    labels, which = np.concatenate(labels), np.concatenate(which)
    perplexity = float(min(30.0, max(2.0, (len(points) - 1) / 3)))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)
    fig, ax = plt.subplots(figsize=(8, 6.5))
    colours = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for i, _ in enumerate(sets):
        for c in range(len(class_names)):
            keep = (which == i) & (labels == c)
            face = colours(c % colours.N) if i else "none"
            ax.scatter(
                xy[keep, 0],
                xy[keep, 1],
                s=18,
                marker=_MARKERS[i % len(_MARKERS)],
                facecolors=face,
                edgecolors=colours(c % colours.N),
                linewidths=0.8,
            )
    class_handles = [
        plt.Line2D([], [], ls="", marker="o", color=colours(c % colours.N), label=n)
        for c, n in enumerate(class_names)
    ]
    set_handles = [
        plt.Line2D(
            [],
            [],
            ls="",
            marker=_MARKERS[i % len(_MARKERS)],
            color="0.3",
            mfc="none" if i == 0 else "0.3",
            label=name,
        )
        for i, (name, _) in enumerate(sets)
    ]
    first = ax.legend(
        handles=class_handles, title="class", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8
    )
    ax.add_artist(first)
    ax.legend(handles=set_handles, title="split", loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=8)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    storage.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def failure_sheet(
    path: str,
    failures: Sequence[Any],
    read_query: Callable[[int], dict],
    read_gallery: Callable[[int], dict],
    *,
    query_frames: int = 4,
    title: str,
) -> None:
    """One row per failed query: `query_frames` frames spread over the query video, then the middle frame
    of each of its nearest synthetic neighbours, each titled with its class. `failures` hold the query's
    record index, class and predicted class names and its neighbours' record indices and class names
    (`evaluation.gap_numbers.Failure`); `read_*(index)` return a split's record."""
    cols = query_frames + max(len(f.neighbours) for f in failures)
    fig, axes = plt.subplots(len(failures), cols, figsize=(1.35 * cols, 1.55 * len(failures)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, f in enumerate(failures):
        jpegs = read_query(f.query_index)["frames"]
        picks = np.linspace(0, len(jpegs) - 1, query_frames).round().astype(int)
        for c, image in enumerate(frames.decode_frames(jpegs, picks)):
            axes[r, c].imshow(image)
        axes[r, 0].set_title(f"real: {f.label}\n→ {f.predicted}", fontsize=7, loc="left")
        for j, n in enumerate(f.neighbours):
            g = read_gallery(n.index)["frames"]
            axes[r, query_frames + j].imshow(frames.decode_frames(g, [len(g) // 2])[0])
            axes[r, query_frames + j].set_title(f"syn #{j + 1}: {n.label}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    storage.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
