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

import dataclasses
import logging
import os

import jax
import ml_collections
import numpy as np
from flax import nnx

from gesture_jax import checkpointing, models, parallel, protocol, report, storage
from gesture_jax.data import augment as augment_lib
from gesture_jax.data import datasets, training
from gesture_jax.models import classifier as classifier_lib
from gesture_jax.run_context import RunContext
from gesture_jax.train import loop, optim
from gesture_jax.train import trainer as trainer_lib

FINAL_JSON = "final.json"
_HEAD = "classifier head logits over the pooled feature"


def run(config: ml_collections.ConfigDict, workdir: str) -> list[protocol.Row]:
    ft = config.finetune
    ctx = RunContext.create(config, workdir, model_overrides={"drop_path_rate": ft.drop_path})
    family = models.family_module(models.get(ctx.encoder_name).family)
    model_config = dataclasses.asdict(ctx.model.config)
    train_split = ctx.split(ft.train_split)
    class_names = ctx.class_names([ft.train_split, ft.val_split, ft.test_split, ft.real_gallery])

    heldout = tuple(int(c) for c in ft.heldout_classes)
    if heldout:
        labels = datasets.split_labels(train_split)
        indices, label_map, kept = training.heldout_split(labels, heldout)
        logging.info("unseen-class protocol: training without %s", [class_names[c] for c in heldout])
    else:
        indices, label_map, kept = None, None, list(range(len(class_names)))
    state_name = f"fine-tuned on {ft.train_split}" + (
        f" without {', '.join(class_names[c] for c in heldout)}" if heldout else ""
    )

    rows = _knn_rows(ctx, ctx.model, class_names, heldout, "frozen", {})

    # --- training ---------------------------------------------------------------------------------
    model = classifier_lib.Classifier(
        ctx.model, classifier_lib.feature_dim(ctx.model), len(kept), rngs=nnx.Rngs(config.seed)
    )
    layers = family.num_layers(model_config)
    strategy = dict(strategy=ft.strategy, last_blocks=ft.last_blocks, layers=layers)

    def is_trainable(path: tuple) -> bool:
        depth = None if path[0] == "head" else family.layer_index(path[1:], model_config)
        return optim.trainable(path, depth, **strategy)

    optim_config = optim.OptimConfig(
        learning_rate=ft.learning_rate,
        min_learning_rate=ft.min_learning_rate,
        warmup_steps=ft.warmup_steps,
        total_steps=ft.num_steps // ft.accum_steps,
        weight_decay=ft.weight_decay,
        layer_decay=ft.layer_decay,
        clip_norm=ft.clip_norm,
        accum_steps=ft.accum_steps,
    )
    trainer = trainer_lib.Trainer(
        model,
        is_trainable=is_trainable,
        make_tx=lambda params: optim.make(
            optim_config, params, lambda p: family.layer_index(p, model_config), layers=layers
        ),
        lr_schedule=optim.schedule(optim_config),
        spec=ctx.spec,
        mesh=ctx.mesh,
        num_classes=len(kept),
        label_smoothing=ft.label_smoothing,
        accum_steps=ft.accum_steps,
    )
    global_batch = ft.batch_per_device * ctx.mesh.devices.size
    row_start, row_count = parallel.process_batch_slice(global_batch, ctx.mesh)
    dataset = training.train_dataset(
        train_split.source,
        ctx.spec,
        augment_lib.AugmentConfig(**ft.augment.to_dict()),
        seed=config.seed,
        global_batch=global_batch,
        row_start=row_start,
        rows=row_count,
        indices=indices,
        label_map=label_map,
        num_threads=config.data.num_threads,
    )
    iterator = iter(dataset)
    checkpoints = checkpointing.TrainCheckpoints(
        os.path.join(workdir, "checkpoints"), keep=ft.keep_checkpoints, best_metric="val_accuracy"
    )
    state = trainer.init_state(config.seed)
    start = checkpoints.latest_step()
    if start is not None:
        state = checkpoints.restore(start, state, iterator)
        logging.info("resuming from the checkpoint at step %d", start)

    # Compiled once; each validation only swaps in the current weights.
    val_extractor = ctx.extractor(trainer.model(state), output=_logits, output_name=_HEAD)

    def validate(state) -> float:
        val_extractor.set_model(trainer.model(state))
        logits = ctx.vectors([ft.val_split], val_extractor, cache=False)[ft.val_split]
        labels, predictions = protocol.head_predictions(logits, kept)
        return float((predictions == labels).mean()) if len(labels) else float("nan")

    state = loop.train(
        trainer,
        state,
        iterator,
        checkpoints,
        start_step=start or 0,
        num_steps=ft.num_steps,
        global_batch=global_batch,
        log_every=ft.log_every,
        checkpoint_every=ft.checkpoint_every,
        validate=validate,
        logdir=workdir,
        is_main=ctx.is_main,
    )
    checkpoints.close()

    # --- after fine-tuning ------------------------------------------------------------------------
    tuned = trainer.model(state)
    digest = trainer_lib.checksum(state["params"])
    rows += _knn_rows(ctx, tuned.encoder, class_names, heldout, state_name, {"finetuned": digest})
    head = ctx.extractor(tuned, output=_logits, output_name=_HEAD)
    for split in (ft.val_split, ft.test_split):
        logits = ctx.vectors([split], head, key_extra={"finetuned": digest, "output": "head logits"})[split]
        describe = {"encoder": ctx.encoder_name, "encoder_state": state_name, "gallery": "classifier head"}
        rows.append(protocol.head_row(logits, kept, class_names, describe={**describe, "queries": split}))
        protocol.log(rows[-1])
    ctx.publish(
        report.Results(
            f"Fine-tuning {config.encoder.name}: before and after",
            rows,
            protocol.comparisons(rows, report.table_label),
        )
    )

    final = {
        "step": int(jax.device_get(state["step"])),
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


def _logits(model, video):
    return model(video)


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
