"""Mode ``finetune``: fine-tune an encoder on synthetic gestures, then ask whether its features got better
at real ones (including real classes it never saw), against the frozen encoder.

1. The frozen encoder's rows (below).
2. Training on the synthetic train split (without the held-out classes): a classification head on the
   encoder's KNN feature, AdamW with layer-wise lr decay, warmup + cosine, drop path, label smoothing,
   TSN training sampling and augmentation. Orbax checkpoints (train state + data iterator, async; the
   latest N and the best on synthetic val kept); a restarted run resumes from the latest one and ends
   bit for bit where an uninterrupted run ends. TensorBoard events and metrics.jsonl in the workdir.
3. The same rows for each interpolated encoder θ(α) = (1 − α)·θ_frozen + α·θ_fine-tuned
   (``finetune.alphas``; WiSE-FT, `gesture_jax.train.interpolate`) and for the fine-tuned one, plus
   the head's accuracy on synthetic val and real test.

Rows per encoder state: KNN (the paper's k) and the probes (``finetune.probes``, settings chosen on
folds of the gallery) with the synthetic and the real gallery → real test. With ``heldout_classes``
they are base-to-novel rows (`gesture_jax.evaluation.base_novel`): seen and novel classes each on their own,
novel ones also with real few-shot galleries (``finetune.shots``, nested draws over seeds); results.json
then has a top-level ``harmonic_mean`` list, and interpolation.png plots accuracy against α.
``final.json`` records the final step, metrics and a checksum of the final parameters.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

import ml_collections

from gesture_jax.evaluation import (
    base_novel,
    method_rows,
    paired_comparisons,
    probe_selection,
    report,
    scoring,
)
from gesture_jax.evaluation.run_context import RunContext
from gesture_jax.features import extraction as features
from gesture_jax.infra import storage
from gesture_jax.train import interpolate, supervised

FINAL_JSON = "final.json"


@dataclasses.dataclass(frozen=True)
class State:
    """An encoder state's name in rows ("frozen", "interpolated", "fine-tuned"), its α and what tells its
    cached features apart from the frozen encoder's."""

    name: str
    alpha: float
    key_extra: dict[str, Any]
    trained_on: str = ""


def run(config: ml_collections.ConfigDict, workdir: str) -> list[scoring.Row]:
    ft = config.finetune
    alphas = interpolate.check_alphas(ft.alphas)
    bad = [p for p in ft.probes if p not in probe_selection.PROBES or p == "knn"]
    if bad:
        raise ValueError(
            f"finetune.probes: {bad} are not probes to add here; choose from prototype, linear_probe "
            "(the paper's KNN row is always there)"
        )
    ctx = RunContext.create(config, workdir, model_overrides={"drop_path_rate": ft.drop_path})
    class_names = ctx.class_names([ft.train_split, ft.val_split, ft.test_split, ft.real_gallery])
    heldout = tuple(int(c) for c in ft.heldout_classes)
    if heldout:
        logging.info("unseen-class protocol: training without %s", [class_names[c] for c in heldout])
    without = f" without {', '.join(class_names[c] for c in heldout)}" if heldout else ""
    trained_on = ft.train_split + without

    extractor = _swap(ctx, None, ctx.model)
    rows = _state_rows(ctx, extractor, class_names, heldout, State("frozen", 0.0, {}))
    interpolated = [a for a in alphas if 0.0 < a < 1.0]
    frozen = interpolate.snapshot(ctx.model) if interpolated else None  # training donates its buffers
    trained = ctx.train_classifier(
        ft, train_split=ft.train_split, val_split=ft.val_split, heldout=heldout, desc="fine-tuning"
    )

    # --- after fine-tuning ------------------------------------------------------------------------
    tuned, digest = trained.model, trained.checksum
    for alpha in interpolated:
        extractor = _swap(ctx, extractor, interpolate.interpolate(frozen, tuned.encoder, alpha))
        state = State("interpolated", alpha, {"finetuned": digest, "alpha": alpha}, trained_on)
        rows += _state_rows(ctx, extractor, class_names, heldout, state)
    fine_tuned = State("fine-tuned", 1.0, {"finetuned": digest}, trained_on)
    extractor = _swap(ctx, extractor, tuned.encoder)
    rows += _state_rows(ctx, extractor, class_names, heldout, fine_tuned)
    rows += _head_rows(ctx, trained, class_names, heldout, fine_tuned)

    entries = base_novel.harmonic_means(rows)
    plot = base_novel.PLOT_FILE if ctx.is_main else None
    if ctx.is_main and not base_novel.plot_interpolation(os.path.join(workdir, plot), rows, entries):
        plot = None
    ctx.publish(
        report.Results(
            f"Fine-tuning {config.encoder.name}: frozen, interpolated and fine-tuned"
            + (", seen vs novel classes" if heldout else ""),
            rows,
            base_novel.focused(rows, paired_comparisons.comparisons(rows, report.table_label)),
            sections=[("seen vs novel", base_novel.section(entries, plot))] if entries or plot else [],
            extra={"harmonic_mean": entries} if heldout else {},
        )
    )

    final = {
        "step": trained.step,
        "params_checksum": digest,
        "metrics": {r.id: r.metrics["accuracy"] for r in rows},
    }
    if heldout:
        final["harmonic_mean"] = {
            f"{e['encoder_state']} α={e['alpha']:g} | {e['method']} | {e['gallery']} → {e['queries']}": e[
                "harmonic_mean"
            ]
            for e in entries
        }
    if ctx.is_main:
        storage.write_json(os.path.join(workdir, FINAL_JSON), final)
    return rows


def _state_rows(ctx: RunContext, extractor, class_names, heldout, state: State) -> list[scoring.Row]:
    """One encoder state's rows: KNN and probes with the synthetic and the real gallery on the real test
    videos; with held-out classes, per class subset, and real few-shot galleries for the novel one."""
    ft = ctx.config.finetune
    galleries = (ft.synthetic_gallery or ft.train_split, ft.real_gallery)
    vectors = ctx.vectors([*galleries, ft.test_split], extractor, key_extra=state.key_extra)
    test = vectors[ft.test_split]
    kept = [c for c in range(len(class_names)) if c not in heldout]
    subsets = [("seen", kept), ("novel", list(heldout))] if heldout else [("", kept)]
    settings = probe_selection.ProbeSettings(
        methods=tuple(ft.probes), k=ft.k, metric=ft.metric, num_folds=ft.num_folds
    )
    common = dict(class_names=class_names, mesh=ctx.mesh)
    rows = []
    for subset, classes in subsets:
        queries = base_novel.restrict(test, classes)
        name = base_novel.subset_queries(ft.test_split, subset) if subset else ft.test_split
        describe = {"encoder": ctx.encoder_name, "encoder_state": state.name, "queries": name}
        describe.update(alpha=state.alpha, **({"class_subset": subset} if subset else {}))
        describe.update({"fine_tuned_on": state.trained_on} if state.trained_on else {})
        for gallery_name in galleries:
            gallery = base_novel.restrict(vectors[gallery_name], classes)
            where = {**describe, "gallery": gallery_name}
            rows.append(
                method_rows.knn_row(gallery, queries, k=ft.k, metric=ft.metric, describe=where, **common)
            )
            if settings.methods:
                rows += probe_selection.probe_rows(
                    gallery, {name: queries}, probe_selection.Validation(), settings, describe=where, **common
                )
        if subset == "novel":  # real few-shot galleries of classes the fine-tuning never saw
            pool = base_novel.restrict(vectors[ft.real_gallery], classes)
            for shots in (s for s in ft.shots if s != method_rows.ALL):
                gallery = {"gallery": f"{ft.real_gallery}[{shots}/class]"}
                rows.append(
                    method_rows.fewshot_row(pool, queries, shots=shots, num_seeds=ft.num_seeds, k=ft.k,
                                         metric=ft.metric, describe={**describe, **gallery}, **common)
                )  # fmt: skip
    for row in rows:
        if row.headline:
            scoring.log(row)
    return rows


def _swap(ctx: RunContext, extractor: features.Extractor | None, encoder) -> features.Extractor:
    """The run's extractor with `encoder`'s weights swapped in (one compilation for every encoder state);
    a new one only for an encoder of another graph."""
    if extractor is not None:
        try:
            extractor.set_model(encoder)
            return extractor
        except ValueError:
            logging.info("the encoder's graph changed: compiling its extractor anew")
    return ctx.extractor(encoder)


def _head_rows(ctx: RunContext, trained, class_names, heldout, state: State) -> list[scoring.Row]:
    """The classifier head on synthetic val and real test: the classes it was trained on (seen) only."""
    ft = ctx.config.finetune
    head = ctx.extractor(trained.model, output=supervised.logits, output_name=supervised.HEAD_OUTPUT)
    rows = []
    for split in (ft.val_split, ft.test_split):
        key = {"finetuned": trained.checksum, "output": "head logits"}
        logits = ctx.vectors([split], head, key_extra=key)[split]
        queries = base_novel.subset_queries(split, "seen") if heldout else split
        describe = {"encoder": ctx.encoder_name, "encoder_state": state.name, "queries": queries}
        describe.update(gallery="classifier head", alpha=state.alpha, fine_tuned_on=state.trained_on)
        describe.update({"class_subset": "seen"} if heldout else {})
        rows.append(method_rows.head_row(logits, trained.kept, class_names, describe=describe))
        scoring.log(rows[-1])
    return rows
