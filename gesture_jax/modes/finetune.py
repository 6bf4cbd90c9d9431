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

Steps 1 and 3 are the same evaluators at each encoder state (``config.evals``, default ``seen_novel``
and ``head``). Rows per encoder state: KNN (the paper's k) and the probes (``finetune.probes``, settings
chosen on folds of the gallery) with the synthetic and the real gallery → real test. With ``heldout_classes``
they are base-to-novel rows (`gesture_jax.evaluation.base_novel`): seen and novel classes each on their own,
novel ones also with real few-shot galleries (``finetune.shots``, nested draws over seeds); results.json
then has a top-level ``harmonic_mean`` list, and interpolation.png plots accuracy against α.
``final.json`` records the final step, metrics and a checksum of the final parameters.
"""

from __future__ import annotations

import logging
import os

import ml_collections

from gesture_jax.evaluation import base_novel, engine, paired_comparisons, report, scoring
from gesture_jax.evaluation.engine import EncoderState
from gesture_jax.evaluation.run_context import RunContext
from gesture_jax.evaluators import seen_novel
from gesture_jax.features import extraction as features
from gesture_jax.infra import storage
from gesture_jax.train import interpolate

FINAL_JSON = "final.json"


def run(config: ml_collections.ConfigDict, workdir: str) -> list[scoring.Row]:
    ft = config.finetune
    alphas = interpolate.check_alphas(ft.alphas)
    names = engine.evals(config)
    engine.check(config, names)
    ctx = RunContext.create(config, workdir, model_overrides={"drop_path_rate": ft.drop_path})
    class_names, heldout = seen_novel.classes(ctx)
    if heldout:
        logging.info("unseen-class protocol: training without %s", [class_names[c] for c in heldout])
    without = f" without {', '.join(class_names[c] for c in heldout)}" if heldout else ""
    trained_on = ft.train_split + without

    extractor = _swap(ctx, None, ctx.model)
    out = engine.evaluate(ctx, names, [EncoderState("frozen", 0.0, {}, extractor=extractor)])
    interpolated = [a for a in alphas if 0.0 < a < 1.0]
    frozen = interpolate.snapshot(ctx.model) if interpolated else None  # training donates its buffers
    trained = ctx.train_classifier(
        ft, train_split=ft.train_split, val_split=ft.val_split, heldout=heldout, desc="fine-tuning"
    )

    # --- after fine-tuning: the same evaluators at each state (one extractor, weights swapped in) ------
    tuned, digest = trained.model, trained.checksum
    for alpha in interpolated:
        extractor = _swap(ctx, extractor, interpolate.interpolate(frozen, tuned.encoder, alpha))
        key = {"finetuned": digest, "alpha": alpha}
        state = EncoderState("interpolated", alpha, key, trained_on, extractor=extractor)
        out.add(engine.evaluate(ctx, names, [state]))
    extractor = _swap(ctx, extractor, tuned.encoder)
    state = EncoderState("fine-tuned", 1.0, {"finetuned": digest}, trained_on, extractor, trained)
    out.add(engine.evaluate(ctx, names, [state]))

    rows = out.rows
    summary = seen_novel.summary(ctx, rows)
    out.add(summary)
    out.focus += tuned_against_frozen(rows)
    states = (
        "frozen, interpolated (α " + ", ".join(f"{a:g}" for a in interpolated) + ") and"
        if interpolated
        else "frozen and"
    )
    engine.publish(
        ctx,
        out,
        title=f"Fine-tuning {config.encoder.name}: {states} fine-tuned"
        + (", seen vs novel classes" if heldout else ""),
        comparisons=lambda rows: base_novel.focused(
            rows, paired_comparisons.comparisons(rows, report.table_label)
        ),
    )

    final = {
        "step": trained.step,
        "params_checksum": digest,
        "metrics": {r.id: r.metrics["accuracy"] for r in rows},
    }
    if heldout:
        final["harmonic_mean"] = {e.label: e.harmonic_mean for e in summary.extra["harmonic_mean"]}
    if ctx.is_main:
        storage.write_json(os.path.join(workdir, FINAL_JSON), final)
    return rows


def tuned_against_frozen(rows: list[scoring.Row]) -> list[tuple[str, str]]:
    """What fine-tuning is about: the fine-tuned encoder against the frozen one with the fixed KNN, per
    gallery and query split (class subsets included)."""
    knn = [r for r in rows if r.method == "knn" and not r.roles and r.pairable]
    frozen = {(r.gallery, r.queries): r for r in knn if r.encoder_state == "frozen"}
    return [
        (r.id, frozen[r.gallery, r.queries].id)
        for r in knn
        if r.encoder_state == "fine-tuned" and (r.gallery, r.queries) in frozen
    ]


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
