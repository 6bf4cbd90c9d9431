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
from typing import Any

import jax
import ml_collections
import numpy as np
from flax import nnx
from tqdm import tqdm

from gesture_jax import checkpointing, features, fewshot, knn, models, parallel, report
from gesture_jax import workdir as workdir_lib
from gesture_jax.data import augment as augment_lib
from gesture_jax.data import datasets, training
from gesture_jax.models import classifier as classifier_lib
from gesture_jax.train import optim, summaries
from gesture_jax.train import trainer as trainer_lib

FINAL_JSON = "final.json"


def run(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
    ft = config.finetune
    mesh = parallel.make_mesh()
    encoder, spec = models.from_config(config.encoder, model_overrides={"drop_path_rate": ft.drop_path})
    family = models.family_module(models.get(config.encoder.name).family)
    model_config = dataclasses.asdict(encoder.config)
    train_split = datasets.open_configured(ft.train_split, config.data)
    class_names = train_split.class_names

    heldout = tuple(int(c) for c in ft.heldout_classes)
    if heldout:
        labels = datasets.split_labels(train_split)
        indices, label_map, kept = training.heldout_split(labels, heldout)
        logging.info("unseen-class protocol: training without %s", [class_names[c] for c in heldout])
    else:
        indices, label_map, kept = None, None, list(range(len(class_names)))
    state_name = f"fine-tuned on {ft.train_split}" + (
        f" without {_names(class_names, heldout)}" if heldout else ""
    )

    rows = _knn_rows(config, workdir, encoder, spec, mesh, class_names, heldout, "frozen", {})

    # --- training ---------------------------------------------------------------------------------
    model = classifier_lib.Classifier(
        encoder, classifier_lib.feature_dim(encoder), len(kept), rngs=nnx.Rngs(config.seed)
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
        spec=spec,
        mesh=mesh,
        num_classes=len(kept),
        label_smoothing=ft.label_smoothing,
        accum_steps=ft.accum_steps,
    )
    global_batch = ft.batch_per_device * mesh.devices.size
    row_start, row_count = parallel.process_batch_slice(global_batch, mesh)
    augment = augment_lib.AugmentConfig(**ft.augment.to_dict())
    dataset = training.train_dataset(
        train_split.source,
        spec,
        augment,
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
    state = _train(config, workdir, trainer, spec, state, iterator, checkpoints, start or 0, kept)
    checkpoints.close()

    # --- after fine-tuning ------------------------------------------------------------------------
    tuned = trainer.model(state)
    digest = trainer_lib.checksum(state["params"])
    tuned_meta = {"finetuned": digest}
    rows += _knn_rows(
        config, workdir, tuned.encoder, spec, mesh, class_names, heldout, state_name, tuned_meta
    )
    head_rows = [
        _head_row(config, workdir, tuned, spec, mesh, split, class_names, kept, state_name, digest)
        for split in (ft.val_split, ft.test_split)
    ]
    rows += head_rows
    report.publish(workdir, rows, title=f"Fine-tuning {config.encoder.name}: before and after")

    final = {
        "step": int(jax.device_get(state["step"])),
        "params_checksum": digest,
        "metrics": {
            f"{r['encoder_state']} | {r['gallery']} → {r['queries']}"
            + (f" [{r['classes']}]" if "classes" in r else ""): r["accuracy"]
            for r in rows
        },
    }
    if parallel.is_main_process():
        workdir_lib.write_json(os.path.join(workdir, FINAL_JSON), final)
    return rows


def _train(config, workdir, trainer, spec, state, iterator, checkpoints, step, kept) -> dict:
    ft = config.finetune
    logs = summaries.Summaries(workdir, enabled=parallel.is_main_process())
    global_batch = ft.batch_per_device * trainer.mesh.devices.size
    bar = tqdm(
        total=ft.num_steps,
        initial=step,
        desc="fine-tuning",
        unit="step",
        dynamic_ncols=True,
        disable=not parallel.is_main_process(),
    )
    # Compiled once; each checkpoint only swaps in the current weights.
    val_split = datasets.open_configured(ft.val_split, config.data)
    val_extractor = features.Extractor(
        trainer.model(state), spec, trainer.mesh, output=_logits, output_name=_HEAD
    )
    while step < ft.num_steps:
        state, metrics = trainer.step(state, next(iterator))
        step += 1
        bar.update(1)
        if step % ft.log_every == 0 or step == ft.num_steps:
            values = {f"train/{k}": float(v) for k, v in jax.device_get(metrics).items()}
            rate = bar.format_dict.get("rate") or 0.0
            values["train/clips_per_second"] = rate * global_batch
            logs.write(step, values)
            bar.set_postfix(
                loss=f"{values['train/loss']:.3f}", clips_s=f"{values['train/clips_per_second']:.0f}"
            )
        if step % ft.checkpoint_every == 0 or step == ft.num_steps:
            val_extractor.set_model(trainer.model(state))
            val = _head_accuracy(config, val_extractor, val_split, kept)
            logs.write(step, {"val/accuracy": val})
            checkpoints.save(step, state, iterator, {"val_accuracy": val})
            logging.info("step %d: synthetic val accuracy %.1f%% (checkpoint saved)", step, 100 * val)
    bar.close()
    logs.close()
    return state


def _names(class_names, classes) -> str:
    return ", ".join(class_names[c] for c in classes)


def _head_predictions(logits: features.FeatureSet, kept: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, head predictions) of the videos of the kept classes, both as dataset labels."""
    keep = np.isin(logits.labels, kept)
    return logits.labels[keep], np.asarray(kept)[logits.features[keep].argmax(1)]


def _logits(model, video):
    return model(video)


_HEAD = "classifier head logits over the pooled feature"


def _head_accuracy(config, extractor: features.Extractor, split: datasets.Split, kept) -> float:
    """The head's accuracy on the kept classes of a split (no cache: the weights change every call)."""
    logits = features.extract(
        extractor,
        split,
        cache_dir=None,
        meta={},
        per_device_batch=config.extract.per_device_batch,
        num_threads=config.data.num_threads,
    )
    labels, predictions = _head_predictions(logits, kept)
    return float((predictions == labels).mean()) if len(labels) else float("nan")


def _head_row(config, workdir, model, spec, mesh, split_name, class_names, kept, state_name, digest):
    extractor = features.Extractor(model, spec, mesh, output=_logits, output_name=_HEAD)
    feats, _ = features.extract_splits(
        config, workdir, extractor, [split_name], {"finetuned": digest, "output": "head logits"}
    )
    labels, predictions = _head_predictions(feats[split_name], kept)
    return report.classification_row(
        labels,
        predictions,
        class_names,
        encoder=config.encoder.name,
        encoder_state=state_name,
        gallery="classifier head",
        queries=split_name,
        metric="head",
    )


def _knn_rows(config, workdir, encoder, spec, mesh, class_names, heldout, state_name, meta) -> list[dict]:
    ft = config.finetune
    extractor = features.Extractor(encoder, spec, mesh)
    galleries = (ft.synthetic_gallery or ft.train_split, ft.real_gallery)
    names = list(dict.fromkeys([*galleries, ft.test_split]))
    feats, _ = features.extract_splits(config, workdir, extractor, names, meta)
    queries = feats[ft.test_split]
    rows = []

    def add(gallery_label, gallery, query_mask, **fields):
        k = min(ft.k, len(gallery))  # a 1-shot gallery of two classes holds two videos
        predictions = knn.knn_classify(
            gallery.features,
            gallery.labels,
            queries.features[query_mask],
            k=k,
            metric="l2",
            num_classes=len(class_names),
            mesh=mesh,
        )
        return report.classification_row(
            queries.labels[query_mask],
            predictions,
            class_names,
            encoder=config.encoder.name,
            encoder_state=state_name,
            gallery=gallery_label,
            queries=ft.test_split,
            k=k,
            metric="l2",
            num_gallery=len(gallery),
            **fields,
        )

    everything = np.ones(len(queries), bool)
    for name in galleries:
        rows.append(add(name, feats[name], everything, **({"classes": "all"} if heldout else {})))
        report.log_row(rows[-1])
    if heldout:  # real videos of classes the encoder never saw in fine-tuning
        real = feats[ft.real_gallery]
        pool = np.flatnonzero(np.isin(real.labels, heldout))
        query_mask = np.isin(queries.labels, heldout)
        for shots in ft.shots:
            per_seed = []
            for seed in range(ft.num_seeds if shots != fewshot.ALL else 1):
                index = pool[fewshot.sample_per_class(real.labels[pool], shots, seed)]
                gallery = features.FeatureSet(real.features[index], real.labels[index], real.ids[index])
                tag = f"[{shots}/class]" if shots != fewshot.ALL else "[all]"
                per_seed.append(
                    add(f"{ft.real_gallery}{tag}", gallery, query_mask, classes="heldout", shots=shots)
                )
            rows.append(fewshot.aggregate(per_seed))
            report.log_row(rows[-1])
    return rows
