"""Attribution of a synthetic gallery's KNN to its generator's parameters, and curation (``config.diagnose``).

Per parameter value (binned when numeric): its share of the real queries' synthetic neighbours and of
their votes, and a leave-one-value-out ablation of the gallery; then, on ``diagnose.selection`` (never
the query split), a gallery curated greedily by leaving values out while selection accuracy rises,
scored on the queries as one more row with a paired comparison against the whole gallery.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from gesture_jax.analysis import attribution, knn, stats
from gesture_jax.data import datasets, groups
from gesture_jax.evaluation import gap_numbers, method_rows, scoring
from gesture_jax.features.extraction import VideoVectors


def fields(cfg) -> tuple[str, ...]:
    fields = tuple(cfg.attribute)
    if fields == ("auto",):
        return groups.attribution_fields(datasets.SplitRef.parse(cfg.synthetic).dataset)
    return fields


def attribute(
    ctx, cfg, fields, vectors, neighbours, synthetic_row
) -> tuple[gap_numbers.Attribution, scoring.Row | None]:
    """Attribution of the synthetic gallery's KNN to its generator parameters (module docstring); returns
    the numbers and the curated gallery's row (None without a selection split)."""
    synthetic, queries = vectors[cfg.synthetic], vectors[cfg.queries]
    k, num_classes = synthetic_row.key.k, len(synthetic_row.class_names)
    start = time.perf_counter()
    values = ctx.metadata(cfg.synthetic, fields)  # reads each record of the gallery once
    factors = [attribution.factor(f, values[f], max_values=cfg.max_values, bins=cfg.bins) for f in fields]
    logging.info(
        "attribution: %d parameters, %d values, read from %d records of %s in %.0f s",
        len(factors),
        sum(len(f.values) for f in factors),
        len(synthetic),
        cfg.synthetic,
        time.perf_counter() - start,
    )

    def predictor(q: VideoVectors):
        return lambda mask: knn.knn_classify(
            synthetic.vectors,
            synthetic.labels,
            q.vectors,
            k=k,
            metric=cfg.metric,
            num_classes=num_classes,
            mesh=ctx.mesh,
            gallery_mask=mask,
        )

    shares = [
        r
        for f in factors
        for r in attribution.neighbour_shares(f, neighbours, synthetic.labels, queries.labels)
    ]
    ablations = attribution.leave_one_out(
        factors, predictor(queries), queries.labels, synthetic.labels, k=k, seed=cfg.seed
    )
    # class indices → names, for readers of the json and csv
    names = synthetic_row.class_names
    ablations = [dataclasses.replace(r, classes_lost=[names[c] for c in r.classes_lost]) for r in ablations]
    logging.info("attribution: %d leave-one-value-out ablations done", len(ablations))
    out = gap_numbers.Attribution(
        cfg.synthetic,
        cfg.queries,
        k,
        {"max_values": cfg.max_values, "bins": cfg.bins},
        neighbour_shares=shares,
        leave_one_out=ablations,
    )
    if not cfg.selection:
        return out, None
    selection = vectors[cfg.selection]
    chosen = attribution.curate(
        factors, predictor(selection), selection.labels, synthetic.labels, k=k, max_steps=cfg.curation_steps
    )
    logging.info(
        "curation on %s: left out %s",
        cfg.selection,
        ", ".join(f"{s.field} = {s.value}" for s in chosen.steps) or "nothing",
    )
    name = f"{cfg.synthetic}[curated on {cfg.selection}]"
    curated = method_rows.knn_row(
        synthetic.take(chosen.mask),
        queries,
        k=k,
        metric=cfg.metric,
        class_names=synthetic_row.class_names,
        mesh=ctx.mesh,
        key=scoring.RowKey(
            "", synthetic_row.encoder, synthetic_row.encoder_state, name, synthetic_row.queries
        ),
    )
    a, b = curated.correct, synthetic_row.correct
    curation = gap_numbers.Curated(
        cfg.selection,
        "greedy: leave out the parameter value that raises selection accuracy most, while it rises",
        cfg.curation_steps,
        chosen.start_accuracy,
        chosen.steps,
        int(chosen.mask.sum()),
        name,
        test_accuracy=float(a.mean()),
        test_accuracy_full=float(b.mean()),
        test_difference=float(a.mean() - b.mean()),
        test_ci95=list(stats.paired_bootstrap_ci(a, b, strata=curated.labels, seed=cfg.seed)),
        test_mcnemar_p=stats.mcnemar_exact(a, b),
    )
    return dataclasses.replace(out, curation=curation), curated
