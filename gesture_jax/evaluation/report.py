"""A run's report: ``results.json``, ``results.md``, per-video predictions and confusion matrices.

`write` takes `Results` (rows from `evaluation.scoring`, their comparisons, extra named sections) and
changes none of them. results.md is a list of named sections: the summary tables (one per query split:
table rows are an encoder with a method, columns are galleries; cells are accuracy with its 95%
interval), the paired comparisons, the breakdowns, then any sections a mode adds, then every row.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # files only, never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gesture_jax.evaluation.cells import DEGENERATE, DEGENERATE_NOTE, difference, percent  # noqa: E402
from gesture_jax.evaluation.scoring import ORACLE_SUFFIX, Row  # noqa: E402
from gesture_jax.infra import storage  # noqa: E402

RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"


@dataclasses.dataclass(frozen=True)
class Results:
    title: str
    rows: Sequence[Row]
    comparisons: Sequence[dict[str, Any]] = ()
    note: str = ""  # one sentence: what the numbers do and do not show
    sections: Sequence[tuple[str, str]] = ()  # (heading, markdown) a mode adds after the breakdowns
    reported: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)  # row → gallery → %
    reported_source: str = ""
    headline: str = ""  # markdown opening the report: what the run found (`evaluation.headline`)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # more top-level results.json fields


def predictions_file(row: Row) -> str:
    return f"predictions_{row.id}.csv"


def confusion_file(row: Row) -> str | None:
    return f"confusion_{row.id}.png" if row.headline else None  # sweep points: predictions only


def row_json(row: Row) -> dict[str, Any]:
    """A row as results.json holds it."""
    out = {"id": row.id, "method": row.method}
    out.update(encoder=row.encoder, encoder_state=row.encoder_state, gallery=row.gallery, queries=row.queries)
    out.update(row.settings)
    out.update(row.metrics)
    if row.experiment:
        out["row"] = row.experiment
    if row.roles:
        out["roles"] = list(row.roles)
    if row.selection is not None:
        out["selection"] = row.selection
    if row.breakdowns:
        out["breakdowns"] = row.breakdowns
    out["predictions_csv"] = predictions_file(row)
    if confusion_file(row):
        out["confusion_png"] = confusion_file(row)
    return out


def write(out_dir: str, results: Results) -> None:
    ids = [r.id for r in results.rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"two result rows share an id: {sorted({i for i in ids if ids.count(i) > 1})}")
    for row in results.rows:
        storage.write_text(os.path.join(out_dir, predictions_file(row)), predictions_csv(row))
        if confusion_file(row):
            plot_confusion(os.path.join(out_dir, confusion_file(row)), row)
    body = {
        "title": results.title,
        "note": results.note,
        "rows": [row_json(r) for r in results.rows],
        "comparisons": list(results.comparisons),
    }
    clash = set(body) & set(results.extra)
    if clash:
        raise ValueError(f"results.json fields {sorted(clash)} are the report's own; rename the extra ones")
    body.update(results.extra)
    storage.write_json(os.path.join(out_dir, RESULTS_JSON), body)
    storage.write_text(os.path.join(out_dir, RESULTS_MD), markdown(results))


def predictions_csv(row: Row) -> str:
    """One line per query video: its id, true class and predicted class (one column per gallery draw)."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    names = row.class_names
    if row.predictions.ndim == 1:
        out.writerow(["id", "label", "prediction", "correct"])
        for i, t, p in zip(row.ids, row.labels, row.predictions):
            out.writerow([i, names[t], names[p], int(t == p)])
    else:
        draws = range(len(row.predictions))
        out.writerow(["id", "label", *(f"prediction_draw{s}" for s in draws)])
        for j, (i, t) in enumerate(zip(row.ids, row.labels)):
            out.writerow([i, names[t], *(names[row.predictions[s, j]] for s in draws)])
    return buffer.getvalue()


# --- markdown ----------------------------------------------------------------------------------------


def accuracy(row: Row) -> str:
    """A row's accuracy with its interval, as every table shows it (an exact binomial interval stands in for
    a zero-width one only for a row scored once: a mean over gallery draws is no proportion of videos)."""
    m = row.metrics
    return percent(
        m["accuracy"], m.get("accuracy_ci95"), m["num_queries"] if row.predictions.ndim == 1 else None
    )


def column_label(rows: Sequence[Row]) -> str:
    """A summary-table column, by what its rows score against: a gallery, a prompt set, a classifier head."""
    gallery, methods = rows[0].gallery, {r.method for r in rows}
    if methods == {"head"}:
        return "classifier head"
    if methods == {"zeroshot"} and all(r.key.prompt_set == gallery for r in rows):
        return f"prompt set `{gallery}`"
    return f"gallery `{gallery}`"


def method_label(row: Row) -> str:
    """The method and its setting, rendered from the row's key."""
    key = row.key
    if key.method == "text_fewshot":
        text = f"text ({key.prompt_set}) + examples, weight chosen on validation"
    elif key.method == "prototype" and key.weight is not None:
        text = "examples only (prototypes, cosine)"
    elif key.method == "zeroshot" and key.shots is not None:
        text = f"text only ({key.prompt_set})"
    elif key.method == "knn":
        text = (
            "KNN" + (f" k={key.k}" if key.k is not None else "") + (f", {key.metric}" if key.metric else "")
        )
        text += f", {key.votes} votes" if key.votes not in (None, "uniform") else ""
    elif key.method == "prototype":
        text = f"prototype, {key.metric}"
    elif key.method == "linear_probe":
        decay = key.weight_decay
        text = f"linear probe, weight decay {decay if decay is not None else float('nan'):g}"
    elif "attentive" in key.method:
        text = _token_probe(row) + f", lr {key.learning_rate:g}, weight decay {key.weight_decay:g}"
        text += f", layer {key.layer}" if key.layer is not None else ""
    else:
        text = {"zeroshot": "zero-shot", "head": "classifier head"}.get(key.method, key.method)
    tags = [
        t
        for t, r in (("paper's protocol", "protocol"), ("chosen on validation", "selected"))
        if r in row.roles
    ]
    return text + (f" ({'; '.join(tags)})" if tags else "")


def _token_probe(row: Row) -> str:
    """'attentive probe, seed 1', or for the best of a grid on the queries, saying so."""
    name = row.method.removesuffix(ORACLE_SUFFIX).replace("_", " ")
    text = f"{name}, seed {row.key.seed}" if row.key.seed is not None else name
    if row.method.endswith(ORACLE_SUFFIX):
        text += ", best of the grid on these queries (published practice; optimistic)"
    return text


def method_labels(row: Row) -> list[str]:
    """The method part of each summary-table row a row appears in (`table_labels` without the encoder
    and its state): the paper's fixed KNN first where it is that, then a setting chosen on validation as
    one table row per method family, whatever it chose (the choice is in the cell's row of "All rows")."""
    family = {"knn": "KNN", "prototype": "prototype", "linear_probe": "linear probe"}.get(row.method)
    if "attentive" in row.method:
        family = _token_probe(row)
    labels = []
    if "protocol" in row.roles:
        labels.append(f"{method_label(dataclasses.replace(row, roles=()))} (paper's protocol)")
    if "selected" in row.roles:
        labels.append(f"{family} (chosen on validation)")
    if "query_oracle" in row.roles:
        labels.append(family)  # the member it picked is in the cell's row of "All rows"
    return labels or [method_label(row)]


def table_labels(row: Row) -> list[str]:
    """The summary-table rows a row appears in: the experiment (mode table) or the encoder and its
    state, with each of its `method_labels`."""
    who = row.experiment or (f"{row.encoder} ({state_label(row)})" if row.encoder_state else row.encoder)
    return [f"{who} · {method}" for method in method_labels(row)]


def state_label(row: Row) -> str:
    """The encoder state, with the interpolation weight where the row has one ("interpolated, α=0.25")."""
    return row.encoder_state + (f", α={row.key.alpha:g}" if row.encoder_state == "interpolated" else "")


def table_label(row: Row) -> str:
    return table_labels(row)[0]


def short_label(row: Row) -> str:
    """A row in a comparison or breakdown: its method and setting, and its gallery."""
    return f"{method_label(row)}, `{row.gallery}`"


def summary_tables(results: Results) -> str:
    lines = []
    headline = [r for r in results.rows if r.headline]
    for queries in _unique(r.queries for r in headline):
        group = [r for r in headline if r.queries == queries]
        galleries = _unique(r.gallery for r in group)
        labels = _unique(label for r in group for label in table_labels(r))
        n = _unique(r.metrics["num_queries"] for r in group)
        with_reported = {
            g for g in galleries if any(g in results.reported.get(r.experiment, {}) for r in group)
        }
        columns = {g: column_label([r for r in group if r.gallery == g]) for g in galleries}
        headers = [h for g in galleries for h in [columns[g]] + ["reported"] * (g in with_reported)]
        lines += [
            f"## Accuracy (%) [95% interval] on `{queries}` ({', '.join(map(str, n))} videos)",
            "",
            "| encoder · method | " + " | ".join(headers) + " |",
            "|---|" + "---:|" * len(headers),
        ]
        for label in labels:
            cells = []
            for gallery in galleries:
                match = [r for r in group if label in table_labels(r) and r.gallery == gallery]
                cells.append(accuracy(match[0]) if match else "–")
                if gallery in with_reported:
                    value = None
                    # The reported number sits beside the paper's fixed KNN, the first label of its row.
                    if match and "protocol" in match[0].roles and label == table_labels(match[0])[0]:
                        value = results.reported.get(match[0].experiment, {}).get(gallery)
                    cells.append(f"*{value:.1f}*" if value is not None else "–")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        if with_reported:
            lines += ["", f"*Reported* values: {results.reported_source or 'as given'}."]
        lines.append("")
    return "\n".join(lines)


def comparisons_section(results: Results) -> str:
    if not results.comparisons:
        return ""
    by_id = {r.id: r for r in results.rows}
    lines = [
        "## Paired comparisons (same query videos)",
        "",
        "Difference in accuracy points, a − b, with its paired 95% bootstrap interval and the exact "
        "McNemar p; ✱ marks an interval that excludes 0.",
        "",
        "| queries | a | b | a − b [95% interval] | McNemar p | |",
        "|---|---|---|---:|---:|---|",
    ]
    for c in results.comparisons:
        a, b = by_id[c["a"]], by_id[c["b"]]
        lo, hi = c["ci95"]
        mark = "✱" if lo > 0 or hi < 0 else ""
        la, lb = pair_label(a, results.rows), pair_label(b, results.rows)
        lines.append(f"| `{c['queries']}` | {la} | {lb} | {difference(c)} | {c['mcnemar_p']:.3g} | {mark} |")
    return "\n".join(lines) + "\n"


def pair_label(row: Row, rows: Sequence[Row]) -> str:
    """A row in a comparison: its method and gallery, with the encoder and its state (α included) when
    the report holds rows of more than one, so no two rows of a report read alike."""
    if len({(r.experiment, r.encoder, state_label(r)) for r in rows}) == 1:
        return short_label(row)
    return f"{table_label(row)}, `{row.gallery}`"


def breakdowns_section(results: Results) -> str:
    rows = [r for r in results.rows if r.headline and r.breakdowns]
    lines = []
    for queries in _unique(r.queries for r in rows):
        group = [r for r in rows if r.queries == queries]
        for field in _unique(f for r in group for f in r.breakdowns):
            cols = [r for r in group if field in r.breakdowns]
            values = _unique(c["value"] for r in cols for c in r.breakdowns[field])
            lines += [
                f"## Accuracy (%) by `{field}` on `{queries}`",
                "",
                "| value | n | " + " | ".join(pair_label(r, results.rows) for r in cols) + " |",
                "|---|---:|" + "---:|" * len(cols),
            ]
            for value in values:
                cells = [next((c for c in r.breakdowns[field] if c["value"] == value), None) for r in cols]
                shown = [percent(c["accuracy"], c["ci95"], c["count"]) if c else "–" for c in cells]
                counts = {c["count"] for c in cells if c}
                if len(counts) > 1:  # each column counts its own videos (e.g. by its own nearest neighbour)
                    shown = [f"{t} (n={c['count']})" if c else t for t, c in zip(shown, cells)]
                n = next(iter(counts)) if len(counts) == 1 else "per cell"
                lines.append(f"| {value} | {n} | " + " | ".join(shown) + " |")
            lines.append("")
    return "\n".join(lines)


def all_rows_section(results: Results) -> str:
    lines = [
        "## All rows",
        "",
        "| id | method | gallery | queries | setting | accuracy % [95%] | mean class acc. % [95%] | n "
        "| files |",
        "|---|---|---|---|---|---:|---:|---:|---|",
    ]
    for r in results.rows:
        m = r.metrics
        files = f"[csv]({predictions_file(r)})" + (
            f" [png]({confusion_file(r)})" if confusion_file(r) else ""
        )
        lines.append(
            f"| {r.id} | {r.method} | `{r.gallery}` | `{r.queries}` | {method_label(r)} | "
            f"{accuracy(r)} | {percent(m['mean_class_accuracy'], m.get('mean_class_accuracy_ci95'))} | "
            f"{m['num_queries']} | {files} |"
        )
    return "\n".join(lines) + "\n"


def sections(results: Results) -> list[tuple[str, str]]:
    """results.md as named sections, in order."""
    head = f"# {results.title}\n\n" + (f"{results.note}\n" if results.note else "")
    named = [
        ("title", head),
        ("headline", results.headline),
        ("summary", summary_tables(results)),
        ("comparisons", comparisons_section(results)),
        ("breakdowns", breakdowns_section(results)),
        *results.sections,
        ("all rows", all_rows_section(results)),
    ]
    # A section showing an interval marked DEGENERATE says why, right below it.
    named = [
        (name, text.rstrip("\n") + f"\n\n{DEGENERATE_NOTE}\n" if DEGENERATE in text else text)
        for name, text in named
    ]
    return [(name, text) for name, text in named if text]


def markdown(results: Results) -> str:
    return "\n".join(text.rstrip("\n") + "\n" for _, text in sections(results))


def summary(results: Results) -> str:
    """What a run prints: the title, the summary tables and the comparisons."""
    keep = {"title", "headline", "summary", "comparisons"}
    return "\n".join(text.rstrip("\n") + "\n" for name, text in sections(results) if name in keep).strip()


# --- plots ---------------------------------------------------------------------------------------------


def plot_confusion(path: str, row: Row) -> None:
    matrix = np.array(row.metrics["confusion"])
    names = row.class_names
    n = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * n, 1.2 + 0.7 * n), dpi=100)
    support = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(matrix / support, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            color = "white" if matrix[i, j] / support[i, 0] > 0.5 else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(
        f"{table_label(row)}\ngallery {row.gallery} → {row.queries}\naccuracy {accuracy(row)}%",
        fontsize=8,
    )
    save_figure(path, fig)


def save_figure(path: str, fig) -> None:
    """A figure laid out, written atomically as PNG (local or bucket) and closed."""
    fig.tight_layout()
    storage.write_with(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def _unique(items) -> list:
    return list(dict.fromkeys(items))
