"""The tables of mode diagnose: its results.md sections (domain gap, attribution, failed queries) and
``attribution.csv``, from the typed numbers that ``domain_gap.json`` holds (`gap_numbers`)."""

from __future__ import annotations

import csv
import io

from gesture_jax.evaluation.gap_numbers import Attribution, DomainGap, Failure
from gesture_jax.infra import storage

ATTRIBUTION_CSV = "attribution.csv"


def gap_markdown(gap: DomainGap, mixed_name: str, cfg, picture: str) -> str:
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
    for key, p in gap.pairs.items():
        a, b = key.split(" | ")
        pad = "–" if p.proxy_a_distance is None else f"{p.proxy_a_distance:.2f}"
        lines.append(
            f"| `{a}` | `{b}` | {p.n_a} / {p.n_b} | {p.mmd2:.4f} | {p.mmd2_p_value:.3g} | "
            f"{p.frechet:.4g} | {pad} |"
        )
    for key, p in gap.pairs.items():
        if p.proxy_a_distance_not_computed:
            lines += ["", f"No proxy A-distance for `{key}`: {p.proxy_a_distance_not_computed}."]
    for key, p in gap.neighbour_provenance.items():
        lines += [
            "",
            f"Neighbours of the real queries in the mixed gallery ({key}, k={p.k}): "
            f"{100 * p.synthetic_share:.1f}% synthetic; of the query's class: "
            f"{100 * p.same_class_share_of_synthetic:.1f}% of the synthetic ones, "
            f"{100 * p.same_class_share_of_real:.1f}% of the real ones.",
        ]
    lines += ["", f"![t-SNE of the features]({picture})"]
    return "\n".join(lines) + "\n"


CSV_COLUMNS = (
    "encoder",
    "gallery",
    "queries",
    "field",
    "value",
    "rule",
    "low",
    "high",
    "gallery_count",
    "gallery_share",
    "neighbour_count",
    "neighbour_share",
    "lift",
    "neighbours_correct",
    "num_removed",
    "accuracy_without",
    "full_accuracy",
    "difference",
    "ci95_low",
    "ci95_high",
    "mcnemar_p",
    "mcnemar_p_holm",
    "classes_lost",
    "skipped",
    "removed_by_curation",
)


def attribution_csv(encoder: str, att: Attribution) -> str:
    """One line per parameter value: its neighbour shares, its leave-one-out ablation and whether the
    curation left it out."""
    loo = {(r.field, r.value): r for r in att.leave_one_out}
    curated_out = {(s.field, s.value) for s in (att.curation.steps if att.curation else [])}
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for share in att.neighbour_shares:
        key = (share.field, share.value)
        ablation = loo[key]
        ci = ablation.ci95 or ["", ""]
        shown = {**storage.as_json_fields(share), **storage.as_json_fields(ablation)}
        writer.writerow(
            {
                "encoder": encoder,
                "gallery": att.gallery,
                "queries": att.queries,
                **{c: "" if shown.get(c) is None else shown[c] for c in CSV_COLUMNS if c in shown},
                "accuracy_without": shown.get("accuracy", ""),
                "ci95_low": ci[0],
                "ci95_high": ci[1],
                "classes_lost": ";".join(ablation.classes_lost),
                "removed_by_curation": str(key in curated_out).lower(),
            }
        )
    return out.getvalue()


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}"


def attribution_markdown(att: Attribution, cfg, shown: int = 6) -> str:
    shares = sorted(att.neighbour_shares, key=lambda r: -r.lift)
    lines = [
        "## Attribution to the generator's parameters",
        "",
        f"KNN (k={att.k}) with `{att.gallery}` on `{att.queries}`. Numeric parameters with more "
        f"than {cfg.max_values} values are cut into {cfg.bins} quantile bins of the gallery's values. "
        f"Every value is in `{ATTRIBUTION_CSV}`; the extremes are shown.",
        "",
        "Which values the real queries' synthetic neighbours have (lift: neighbour share / gallery share; "
        "correct: those neighbours that carry the query's class):",
        "",
        "| parameter | value | gallery % | neighbours % | lift | correct % |",
        "|---|---|---:|---:|---:|---:|",
    ]
    picked = shares[:shown] + [r for r in shares[-shown:] if r not in shares[:shown]]
    for r in picked:
        correct = "–" if r.neighbours_correct is None else f"{100 * r.neighbours_correct:.0f}"
        lines.append(
            f"| {r.field} | {r.value} | {100 * r.gallery_share:.1f} | "
            f"{100 * r.neighbour_share:.1f} | {r.lift:.2f} | {correct} |"
        )
    tested = sorted((r for r in att.leave_one_out if r.skipped is None), key=lambda r: -r.difference)
    lines += [
        "",
        "Leave one value out: accuracy without every synthetic video of the value, minus the full "
        "gallery's, on the same queries (95% paired interval; McNemar p, Holm-adjusted over the "
        f"{len(tested)} values tested). Positive: the gallery is better without them.",
        "",
        "| parameter | value | videos left out | classes lost | accuracy without (%) | difference (pp) "
        "| p (Holm) |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for r in tested[:shown] + [r for r in tested[-shown:] if r not in tested[:shown]]:
        lo, hi = r.ci95
        lines.append(
            f"| {r.field} | {r.value} | {r.num_removed} | {', '.join(r.classes_lost) or '–'} | "
            f"{100 * r.accuracy:.1f} | "
            f"{_signed(r.difference)} [{_signed(lo)}, {_signed(hi)}] | {r.mcnemar_p_holm:.3g} |"
        )
    skipped = [r for r in att.leave_one_out if r.skipped is not None]
    if skipped:
        lines += [
            "",
            "Not ablated: " + "; ".join(f"{r.field} = {r.value} ({r.skipped})" for r in skipped) + ".",
        ]
    cur = att.curation
    if cur is None:
        lines += ["", "No curation: `diagnose.selection` is empty."]
        return "\n".join(lines) + "\n"
    removed = ", ".join(f"{s.field} = {s.value}" for s in cur.steps) or "nothing (no removal helped)"
    path = " → ".join(
        f"{100 * a:.1f}%" for a in [cur.selection_accuracy_full] + [s.selection_accuracy for s in cur.steps]
    )
    lo, hi = cur.test_ci95
    lines += [
        "",
        f"Curation, chosen on `{cur.selection}` (never the query split): left out {removed}; "
        f"selection accuracy {path}; {cur.num_gallery} videos kept. On `{att.queries}`: "
        f"{100 * cur.test_accuracy:.1f}% against {100 * cur.test_accuracy_full:.1f}% with the full "
        f"gallery, {_signed(cur.test_difference)} pp [{_signed(lo)}, {_signed(hi)}], "
        f"McNemar p {cur.test_mcnemar_p:.3g}.",
    ]
    return "\n".join(lines) + "\n"


def failures_markdown(failures: list[Failure], cfg, sheet: str) -> str:
    lines = [
        f"## Real queries the synthetic gallery gets wrong (the {len(failures)} most confidently wrong)",
        "",
        f"Each row of the sheet: frames of the real query, then the middle frame of its {cfg.k} nearest "
        f"videos of `{cfg.synthetic}`.",
        "",
        "| query | class | predicted | synthetic neighbours |",
        "|---|---|---|---|",
    ]
    for f in failures:
        neighbours = ", ".join(n.label for n in f.neighbours)
        lines.append(f"| `{f.id}` | {f.label} | {f.predicted} | {neighbours} |")
    lines += ["", f"![failed queries]({sheet})"]
    return "\n".join(lines) + "\n"
