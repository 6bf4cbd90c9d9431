"""Probes on an encoder state's features, each gallery split against each query split (``config.knn``).

The training-free half of the study: how well a gallery of synthetic videos (versus real ones) labels
real test videos, by the paper's KNN (k=3, L2, majority vote) and, on the same cached features and the
same queries, by a KNN sweep, class prototypes and a linear probe whose settings are chosen on each
gallery's validation data (never on the queries). Headline rows are broken down by the queries'
metadata, and KNN rows also by that of each query's nearest gallery video (for a synthetic gallery: the
generator parameters it was matched to).
"""

from __future__ import annotations

import dataclasses
import functools

from gesture_jax.evaluation import breakdowns, probe_selection, scoring
from gesture_jax.evaluation.engine import EncoderState, EvalOutput

NOTE = (
    "Each cell is accuracy with its 95% bootstrap interval over the query videos; a difference between "
    "two cells means something only where its paired interval (Paired comparisons) excludes 0."
)


def run(ctx, state: EncoderState) -> EvalOutput:
    cfg = ctx.block("knn", evaluator="probes")
    settings = ctx.probe_settings(cfg)
    validation = {g: ctx.validation_split(g, cfg.validation_splits) for g in cfg.galleries}
    names = [*cfg.galleries, *cfg.queries, *(v for v in validation.values() if v)]
    class_names = ctx.class_names(names)
    vectors = ctx.vectors(names, state.extractor, key_extra=state.key_extra)
    queries = {q: vectors[q] for q in cfg.queries}
    groups = {q: ctx.breakdown_groups(q, cfg.breakdowns) for q in cfg.queries}

    @functools.cache
    def nearest(gallery: str, queries: str, metric: str) -> dict:
        return breakdowns.nearest_gallery_groups(
            vectors[gallery],
            vectors[queries],
            metric=metric,
            mesh=ctx.mesh,
            metadata=lambda indices: ctx.breakdown_groups(gallery, cfg.breakdowns, indices),
        )

    rows = []
    for gallery in cfg.galleries:
        val = probe_selection.Validation(validation[gallery], vectors.get(validation[gallery]))
        key = state.key(ctx.encoder_name, gallery=gallery)
        for row in probe_selection.probe_rows(
            vectors[gallery],
            queries,
            val,
            settings,
            class_names=class_names,
            mesh=ctx.mesh,
            key=key,
        ):
            if row.headline:
                by = groups[row.queries]
                if row.method == "knn":  # and by the generator parameters of each query's nearest match
                    by = {**by, **nearest(gallery, row.queries, row.key.metric)}
                row = dataclasses.replace(row, breakdowns=breakdowns.breakdowns(row, by))
                scoring.log(row)
            rows.append(row)
    # Sorted by query split so each split's rows sit together, in gallery and method order.
    rows.sort(key=lambda r: list(cfg.queries).index(r.queries))
    return EvalOutput(
        rows,
        focus=protocol_focus(rows, list(cfg.galleries)),
        title=f"Probes on {state.name} {ctx.encoder_name} features",
        note=f"{NOTE} Chance is {100 / len(class_names):.1f}% ({len(class_names)} classes).",
    )


def protocol_focus(rows, galleries: list[str]) -> list[tuple[str, str]]:
    """The study's comparison: the paper's KNN with the first configured gallery against the second
    (synthetic against real in every shipped experiment), per query split."""
    focus = []
    for queries in dict.fromkeys(r.queries for r in rows):
        protocol = {r.gallery: r for r in rows if r.queries == queries and "protocol" in r.roles}
        if len(galleries) >= 2 and galleries[0] in protocol and galleries[1] in protocol:
            focus.append((protocol[galleries[0]].id, protocol[galleries[1]].id))
    return focus
