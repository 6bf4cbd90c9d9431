"""Fine-tuning's rows per encoder state, seen and novel classes apart (``config.finetune``).

KNN (the paper's k) and the probes of ``finetune.probes`` (settings chosen on folds of the gallery) with
the synthetic and the real gallery on the real test videos. With ``heldout_classes`` every row is a
base-to-novel row (`evaluation.base_novel`): the seen and the novel classes each among their own, the
novel ones also with real few-shot galleries (``finetune.shots``, nested draws over seeds). `summary`
then gives the harmonic means of seen and novel accuracy over every state, and their plot against α.
"""

from __future__ import annotations

import dataclasses
import os

from gesture_jax.evaluation import base_novel, method_rows, probe_selection, scoring
from gesture_jax.evaluation.engine import EncoderState, EvalOutput


def check(config) -> None:
    bad = [p for p in config.finetune.probes if p not in probe_selection.PROBES or p == "knn"]
    if bad:
        raise ValueError(
            f"finetune.probes: {bad} are not probes to add here; choose from prototype, linear_probe "
            "(the paper's KNN row is always there)"
        )


def classes(ctx) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """(the class names the fine-tuning splits share, the classes held out of fine-tuning)."""
    ft = ctx.config.finetune
    class_names = ctx.class_names([ft.train_split, ft.val_split, ft.test_split, ft.real_gallery])
    return class_names, tuple(int(c) for c in ft.heldout_classes)


def run(ctx, state: EncoderState) -> EvalOutput:
    ft = ctx.block("finetune", evaluator="seen_novel")
    class_names, heldout = classes(ctx)
    galleries = (ft.synthetic_gallery or ft.train_split, ft.real_gallery)
    vectors = ctx.vectors([*galleries, ft.test_split], state.extractor, key_extra=state.key_extra)
    test = vectors[ft.test_split]
    kept = [c for c in range(len(class_names)) if c not in heldout]
    subsets = [("seen", kept), ("novel", list(heldout))] if heldout else [("", kept)]
    settings = probe_selection.ProbeSettings(
        methods=tuple(ft.probes), k=ft.k, metric=ft.metric, num_folds=ft.num_folds
    )
    common = dict(class_names=class_names, mesh=ctx.mesh)
    rows = []
    for subset, classes_ in subsets:
        queries = base_novel.restrict(test, classes_)
        name = base_novel.subset_queries(ft.test_split, subset) if subset else ft.test_split
        key = state.key(ctx.encoder_name, queries=name, class_subset=subset, fine_tuned_on=state.trained_on)
        for gallery_name in galleries:
            gallery = base_novel.restrict(vectors[gallery_name], classes_)
            where = dataclasses.replace(key, gallery=gallery_name)
            rows.append(method_rows.knn_row(gallery, queries, k=ft.k, metric=ft.metric, key=where, **common))
            if settings.methods:
                rows += probe_selection.probe_rows(
                    gallery, {name: queries}, probe_selection.Validation(), settings, key=where, **common
                )
        if subset == "novel":  # real few-shot galleries of classes the fine-tuning never saw
            pool = base_novel.restrict(vectors[ft.real_gallery], classes_)
            for shots in (s for s in ft.shots if s != method_rows.ALL):
                where = dataclasses.replace(key, gallery=f"{ft.real_gallery}[{shots}/class]")
                rows.append(
                    method_rows.fewshot_row(pool, queries, shots=shots, num_seeds=ft.num_seeds, k=ft.k,
                                            metric=ft.metric, key=where, **common)
                )  # fmt: skip
    # A subset's rows name their query split too, so no reader parses it back out of `queries`.
    rows = [dataclasses.replace(r, query_split=ft.test_split) if heldout else r for r in rows]
    for row in rows:
        if row.headline:
            scoring.log(row)
    return EvalOutput(rows)


def summary(ctx, rows: list[scoring.Row]) -> EvalOutput:
    """Over every state's rows: seen, novel and their harmonic mean per state, α, method and gallery
    (results.json ``harmonic_mean`` when classes are held out), and interpolation.png."""
    _, heldout = classes(ctx)
    entries = base_novel.harmonic_means(rows)
    plot = base_novel.PLOT_FILE if ctx.is_main else None
    if ctx.is_main and not base_novel.plot_interpolation(os.path.join(ctx.workdir, plot), rows, entries):
        plot = None
    return EvalOutput(
        sections=[("seen vs novel", base_novel.section(entries, plot))] if entries or plot else [],
        extra={"harmonic_mean": entries} if heldout else {},
        artifacts=[plot] if plot else [],
    )
