"""Mode ``pretrain``: supervised pre-training of an encoder on a corpus's classes, exported as a model.

The toy world's stand-in for Kinetics pre-training (configs/toy_pretrain.py): the encoder and a
classification head are trained on a corpus that holds none of the target gestures (``toy_motions``),
with the fine-tuning machinery (gesture_jax/train/supervised.py: AdamW, warmup + cosine, augmentation,
Orbax checkpoints of train state and data iterator, exact resume). The encoder alone (no head) is then
written as a converted model directory, ``model.json`` + ``params/``, the format any ported checkpoint
has, to ``pretrain.export_dir`` (default ``<workdir>/encoder``). Its ``model.json`` records the
provenance: the resolved config, the training steps, the data (dataset, split, version) and the sha256
of the parameters. The result row is the head's accuracy on the corpus's val split.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os

import jax
import ml_collections

from gesture_jax import models
from gesture_jax.evaluation import method_rows, report, scoring
from gesture_jax.evaluation.run_context import RunContext
from gesture_jax.models import model_dir
from gesture_jax.train import supervised
from gesture_jax.train import trainer as trainer_lib

ENCODER_DIR = "encoder"


def run(config: ml_collections.ConfigDict, workdir: str) -> list[scoring.Row]:
    pt = config.pretrain
    ctx = RunContext.create(config, workdir, model_overrides={"drop_path_rate": pt.drop_path})
    class_names = ctx.class_names([pt.train_split, pt.val_split])
    trained = ctx.train_classifier(
        pt, train_split=pt.train_split, val_split=pt.val_split, desc="pre-training"
    )
    tuned = trained.model
    state_name = f"pre-trained on {pt.train_split}"
    head = ctx.extractor(tuned, output=supervised.logits, output_name=supervised.HEAD_OUTPUT)
    logits = ctx.vectors([pt.val_split], head, cache=False)[pt.val_split]
    key = scoring.RowKey("", ctx.encoder_name, state_name, "classifier head", pt.val_split)
    rows = [method_rows.head_row(logits, trained.kept, class_names, key=key)]
    scoring.log(rows[0])

    export_dir = pt.export_dir or os.path.join(workdir, ENCODER_DIR)
    params = supervised.encoder_params(tuned.encoder)
    meta = model_json(config, ctx, params, trained.step, rows[0].metrics["accuracy"])
    if ctx.is_main:
        model_dir.write(export_dir, params, meta, overwrite=True)
        logging.info(
            "pre-trained encoder written to %s (params sha256 %s)", export_dir, meta["source"]["sha256"]
        )
        print(f"pre-trained encoder: {export_dir} (parameters sha256 {meta['source']['sha256']})")
    ctx.publish(report.Results(f"Pre-training {config.encoder.name} on {pt.train_split}", rows, []))
    return rows


def model_json(config, ctx: RunContext, params, steps: int, val_accuracy: float) -> dict:
    """The exported encoder's model.json: the converted format (family, encoder, model_config, spec)
    plus where the weights came from, in the ``source`` block ports fill from a checkpoint file."""
    pt = config.pretrain
    model_config = {**dataclasses.asdict(ctx.model.config), "drop_path_rate": 0.0}  # training-only
    split = ctx.split(pt.train_split)
    return {
        "format_version": model_dir.FORMAT_VERSION,
        "family": models.get(ctx.encoder_name).family,
        "encoder": ctx.encoder_name,
        "model_config": model_config,
        "spec": ctx.spec.to_dict(),
        "source": {
            "kind": "pretrained",
            "name": f"pretrain of {ctx.encoder_name} on {pt.train_split}",
            "sha256": trainer_lib.checksum(params),  # of the parameters (name, dtype, shape, bytes)
            "bytes": None,
            "num_params": int(sum(v.size for v in params.values())),
            "steps": steps,
            "train_split": pt.train_split,
            "val_split": pt.val_split,
            "dataset_version": split.version,
            "val_accuracy": val_accuracy,
            "jax_version": jax.__version__,
            # The global batch is batch_per_device × devices: the same config on other devices trains on
            # other batches.
            "devices": f"{ctx.mesh.devices.size} × {ctx.mesh.devices.flat[0].platform}",
            "config": json.loads(config.to_json_best_effort()),
        },
    }
