"""Results of a run: ``results.json`` (one row per evaluation), ``results.md`` and confusion matrices.

The markdown table is shaped like the paper's: one row per encoder, one column per gallery, one table
per query set and classifier setting.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # files only, never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gesture_jax import workdir  # noqa: E402

RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
PER_VIDEO = "_per_video"  # (ids, labels, predictions) of a row; written as CSV, never into results.json


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """[true, predicted] counts."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def classification_row(
    labels: np.ndarray,
    predictions: np.ndarray,
    class_names: Sequence[str],
    *,
    ids: Sequence[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A results row: `fields` (encoder, gallery, queries, ...) plus accuracy metrics and the confusion.

    With the videos' `ids`, `write` also saves every video's prediction (``predictions_<row>.csv``).
    """
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    matrix = confusion_matrix(labels, predictions, len(class_names))
    support = matrix.sum(axis=1)
    present = support > 0
    per_class = np.where(present, np.diag(matrix) / np.maximum(support, 1), np.nan)
    if ids is not None and len(ids) != len(labels):
        raise ValueError(f"{len(ids)} video ids for {len(labels)} labels")
    per_video = {} if ids is None else {PER_VIDEO: (list(ids), labels.tolist(), predictions.tolist())}
    return {
        **fields,
        "accuracy": float((labels == predictions).mean()) if len(labels) else float("nan"),
        # Averaged over the classes present among the queries, as RoCoG-v2's mean class accuracy.
        "mean_class_accuracy": float(per_class[present].mean()) if present.any() else float("nan"),
        "num_queries": int(len(labels)),
        "per_class_accuracy": {
            n: (None if np.isnan(a) else float(a)) for n, a in zip(class_names, per_class)
        },
        "class_names": list(class_names),
        "confusion": matrix.tolist(),
        **per_video,
    }


def write(out_dir: str, rows: list[dict[str, Any]], *, title: str = "Results", **reported: Any) -> None:
    """Writes results.json, results.md and one confusion-matrix PNG per row (rows gain `confusion_png`).

    `reported` / `reported_source` go to `markdown`."""
    for row in rows:
        per_video = row.pop(PER_VIDEO, None)
        if per_video is not None:
            row["predictions_csv"] = f"predictions_{_slug(row)}.csv"
            workdir.write_text(
                os.path.join(out_dir, row["predictions_csv"]), predictions_csv(*per_video, row["class_names"])
            )
        row["confusion_png"] = f"confusion_{_slug(row)}.png"
        plot_confusion(
            os.path.join(out_dir, row["confusion_png"]),
            np.array(row["confusion"]),
            row["class_names"],
            title=_row_title(row),
        )
    workdir.write_json(os.path.join(out_dir, RESULTS_JSON), {"rows": rows})
    workdir.write_text(os.path.join(out_dir, RESULTS_MD), markdown(rows, title=title, **reported))


def predictions_csv(
    ids: Sequence[str], labels: Sequence[int], predictions: Sequence[int], class_names: Sequence[str]
) -> str:
    """One line per video: its id, true class and predicted class (by name)."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(["id", "label", "prediction", "correct"])
    for i, t, p in zip(ids, labels, predictions):
        out.writerow([i, class_names[t], class_names[p], int(t == p)])
    return buffer.getvalue()


def log_row(row: dict[str, Any]) -> None:
    logging.info(
        "%s: %s (%s) → %s (%d videos): accuracy %.1f%%, mean class %.1f%%",
        _encoder_label(row),
        row["gallery"],
        f"k={row['k']}, {row['metric']}" if "k" in row else row.get("metric", ""),
        row["queries"],
        row["num_queries"],
        100 * row["accuracy"],
        100 * row["mean_class_accuracy"],
    )


def publish(out_dir: str, rows: list[dict[str, Any]], *, title: str, **reported: Any) -> None:
    """Process 0 writes the report and prints its paper-shaped tables; other processes do nothing."""
    from gesture_jax import parallel

    if parallel.is_main_process():
        write(out_dir, rows, title=title, **reported)
        print(markdown(rows, title=title, **reported).split("## All rows")[0].strip())
    for row in rows:  # `write` took them on process 0; the others drop them
        row.pop(PER_VIDEO, None)


def markdown(
    rows: list[dict[str, Any]],
    *,
    title: str = "Results",
    reported: dict[str, dict[str, float]] | None = None,
    reported_source: str = "",
) -> str:
    """Paper-shaped tables (encoders × galleries, accuracy %), then every row in detail.

    `reported` (row label → gallery → accuracy %) adds a "reported" column beside each gallery it covers.
    """
    reported = reported or {}
    lines = [f"# {title}", ""]
    settings = _unique((r["queries"], r.get("k"), r.get("metric")) for r in rows)
    for queries, k, metric in settings:
        group = [r for r in rows if (r["queries"], r.get("k"), r.get("metric")) == (queries, k, metric)]
        galleries = _unique(r["gallery"] for r in group)
        encoders = _unique(_row_label(r) for r in group)
        n = _unique(r["num_queries"] for r in group)
        with_reported = {g for g in galleries if any(g in reported.get(e, {}) for e in encoders)}
        headers = [h for g in galleries for h in [f"gallery `{g}`"] + ["reported"] * (g in with_reported)]
        lines += [
            f"## Accuracy (%) on `{queries}` ({', '.join(map(str, n))} videos)"
            + (f", KNN k={k}, {metric}" if k is not None else f", {metric}" if metric else ""),
            "",
            "| encoder | " + " | ".join(headers) + " |",
            "|---|" + "---:|" * len(headers),
        ]
        for encoder in encoders:
            cells = []
            for gallery in galleries:
                match = [r for r in group if _row_label(r) == encoder and r["gallery"] == gallery]
                cells.append(f"{100 * match[0]['accuracy']:.1f}" if match else "–")
                if gallery in with_reported:
                    value = reported.get(encoder, {}).get(gallery)
                    cells.append(f"*{value:.1f}*" if value is not None else "–")
            lines.append(f"| {encoder} | " + " | ".join(cells) + " |")
        if with_reported:
            lines += ["", f"*Reported* values: {reported_source or 'as given'}."]
        lines.append("")
    lines += [
        "## All rows",
        "",
        "| encoder | gallery | queries | k | metric | accuracy % | mean class acc. % | n | confusion |",
        "|---|---|---|---:|---|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {_row_label(r)} | `{r['gallery']}` | `{r['queries']}` | {r.get('k', '')} | "
            f"{r.get('metric', '')} | {100 * r['accuracy']:.1f} | "
            f"{100 * r['mean_class_accuracy']:.1f} | {r['num_queries']} | "
            f"[png]({r.get('confusion_png', '')}) |"
        )
    return "\n".join(lines) + "\n"


def plot_confusion(path: str, matrix: np.ndarray, class_names: Sequence[str], *, title: str) -> None:
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * n, 1.0 + 0.7 * n), dpi=100)
    support = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(matrix / support, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(matrix[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if matrix[i, j] / support[i, 0] > 0.5 else "black",
            )
    ax.set_xticks(range(n), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    workdir.write_with(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def _encoder_label(row: dict[str, Any]) -> str:
    state = row.get("encoder_state")
    return f"{row['encoder']} ({state})" if state else row["encoder"]


def _row_label(row: dict[str, Any]) -> str:
    """A table row: the experiment's name when several are collected (mode table), else the encoder."""
    return row.get("row") or _encoder_label(row)


def _row_title(row: dict[str, Any]) -> str:
    return (
        f"{_row_label(row)}\ngallery {row['gallery']} → {row['queries']}\n"
        f"accuracy {100 * row['accuracy']:.1f}%"
    )


def _slug(row: dict[str, Any]) -> str:
    parts = [
        row.get("row", ""),
        row["encoder"],
        row.get("encoder_state", ""),
        row["gallery"],
        row["queries"],
        f"k{row['k']}" if "k" in row else "",
        row.get("metric", ""),
    ]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(p for p in parts if p)).strip("-")


def _unique(items) -> list:
    return list(dict.fromkeys(items))
