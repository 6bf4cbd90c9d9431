"""Mode ``finetune``: fine-tune an encoder on synthetic gestures, then ask whether its features got better
at real ones (including real classes it never saw), against the frozen encoder.

1. KNN with the frozen encoder (synthetic and real galleries → real test; with ``heldout_classes``, also
   real few-shot galleries of the held-out classes → real test videos of those classes).
2. Training on the synthetic train split (without the held-out classes): a classification head on the
   encoder's KNN feature, AdamW with layer-wise lr decay, warmup + cosine, drop path, label smoothing,
   TSN training sampling and augmentation. Orbax checkpoints (train state + data iterator, async; the
   latest N and the best on synthetic val kept); a restarted run resumes from the latest one and ends
   bit for bit where an uninterrupted run ends.
3. The same KNN rows with the fine-tuned encoder, plus the head's accuracy on synthetic val and real test.
``final.json`` records the final step, metrics and a checksum of the final parameters.
"""

from __future__ import annotations

import logging
import os

import ml_collections
import numpy as np

from gesture_jax import protocol, report, storage
from gesture_jax.run_context import RunContext
from gesture_jax.train import supervised

FINAL_JSON = "final.json"


def run(config: ml_collections.ConfigDict, workdir: str) -> list[protocol.Row]:
    ft = config.finetune
    ctx = RunContext.create(config, workdir, model_overrides={"drop_path_rate": ft.drop_path})
    class_names = ctx.class_names([ft.train_split, ft.val_split, ft.test_split, ft.real_gallery])
    heldout = tuple(int(c) for c in ft.heldout_classes)
    if heldout:
        logging.info("unseen-class protocol: training without %s", [class_names[c] for c in heldout])
    state_name = f"fine-tuned on {ft.train_split}" + (
        f" without {', '.join(class_names[c] for c in heldout)}" if heldout else ""
    )

    rows = _knn_rows(ctx, ctx.model, class_names, heldout, "frozen", {})
    trained = supervised.train_classifier(
        ctx, ft, train_split=ft.train_split, val_split=ft.val_split, heldout=heldout, desc="fine-tuning"
    )

    # --- after fine-tuning ------------------------------------------------------------------------
    tuned, digest = trained.model, trained.checksum
    rows += _knn_rows(ctx, tuned.encoder, class_names, heldout, state_name, {"finetuned": digest})
    head = ctx.extractor(tuned, output=supervised.logits, output_name=supervised.HEAD_OUTPUT)
    for split in (ft.val_split, ft.test_split):
        logits = ctx.vectors([split], head, key_extra={"finetuned": digest, "output": "head logits"})[split]
        describe = {"encoder": ctx.encoder_name, "encoder_state": state_name, "gallery": "classifier head"}
        rows.append(
            protocol.head_row(logits, trained.kept, class_names, describe={**describe, "queries": split})
        )
        protocol.log(rows[-1])
    ctx.publish(
        report.Results(
            f"Fine-tuning {config.encoder.name}: before and after",
            rows,
            protocol.comparisons(rows, report.table_label),
        )
    )

    final = {
        "step": trained.step,
        "params_checksum": digest,
        "metrics": {
            f"{r.encoder_state} | {r.gallery} → {r.queries}"
            + (f" [{r.settings['classes']}]" if "classes" in r.settings else ""): r.metrics["accuracy"]
            for r in rows
        },
    }
    if ctx.is_main:
        storage.write_json(os.path.join(workdir, FINAL_JSON), final)
    return rows


def _knn_rows(ctx: RunContext, encoder, class_names, heldout, state_name, key_extra) -> list[protocol.Row]:
    """The paper's KNN with `encoder`: synthetic and real galleries on the real test videos; with held-out
    classes, also real few-shot galleries of those classes on their test videos."""
    ft = ctx.config.finetune
    galleries = (ft.synthetic_gallery or ft.train_split, ft.real_gallery)
    vectors = ctx.vectors([*galleries, ft.test_split], ctx.extractor(encoder), key_extra=key_extra)
    queries = vectors[ft.test_split]
    describe = {"encoder": ctx.encoder_name, "encoder_state": state_name, "queries": ft.test_split}
    common = dict(k=ft.k, metric=ft.metric, class_names=class_names, mesh=ctx.mesh)
    rows = []
    for name in galleries:
        extra = {"classes": "all"} if heldout else {}
        rows.append(
            protocol.knn_row(
                vectors[name], queries, **common, describe={**describe, "gallery": name, **extra}
            )
        )
        protocol.log(rows[-1])
    if heldout:  # real videos of classes the encoder never saw in fine-tuning
        real = vectors[ft.real_gallery]
        pool = np.isin(real.labels, heldout)
        pool = protocol.VideoVectors(real.vectors[pool], real.labels[pool], real.ids[pool])
        for shots in ft.shots:
            tag = f"[{shots}/class]" if shots != protocol.ALL else "[all]"
            gallery = {"gallery": f"{ft.real_gallery}{tag}", "classes": "heldout"}
            rows.append(
                protocol.fewshot_row(
                    pool,
                    queries,
                    shots=shots,
                    num_seeds=ft.num_seeds,
                    query_mask=np.isin(queries.labels, heldout),
                    **common,
                    describe={**describe, **gallery},
                )
            )
            protocol.log(rows[-1])
    return rows
