"""Supervised training of an encoder with a classification head, as fine-tuning and pre-training share it.

`train_classifier` builds the classifier (encoder + linear head on the encoder's KNN feature), the
optimiser (AdamW, layer-wise lr decay, warmup + cosine), the trainer over the run's mesh, the augmented
TSN training stream and the Orbax checkpoints, resumes from the latest checkpoint in the workdir, and runs
the loop. A training block holds the fields `config_lib.training` lists (modes ``finetune``, ``pretrain``).
"""

from __future__ import annotations

import dataclasses
import logging
import os

import jax
import ml_collections
import numpy as np
from flax import nnx

from gesture_jax import checkpointing, models, parallel, protocol
from gesture_jax.data import augment as augment_lib
from gesture_jax.data import datasets, training
from gesture_jax.models import classifier as classifier_lib
from gesture_jax.run_context import RunContext
from gesture_jax.train import loop, optim
from gesture_jax.train import trainer as trainer_lib

HEAD_OUTPUT = "classifier head logits over the pooled feature"


def logits(model, video):
    """The classifier's output, as an extractor's `output` function."""
    return model(video)


@dataclasses.dataclass(frozen=True)
class Trained:
    trainer: trainer_lib.Trainer
    state: dict
    kept: list[int]  # the split's class index of each head output

    @property
    def model(self) -> nnx.Module:
        return self.trainer.model(self.state)

    @property
    def checksum(self) -> str:
        return trainer_lib.checksum(self.state["params"])

    @property
    def step(self) -> int:
        return int(jax.device_get(self.state["step"]))


def train_classifier(
    ctx: RunContext,
    block: ml_collections.ConfigDict,
    *,
    train_split: str,
    val_split: str,
    heldout: tuple[int, ...] = (),
    desc: str = "training",
) -> Trained:
    """Trains ``ctx.model`` with a new head on `train_split` (without the `heldout` classes), checkpointing
    in ``<workdir>/checkpoints`` and keeping the best by head accuracy on `val_split`."""
    config = ctx.config
    family = models.family_module(models.get(ctx.encoder_name).family)
    model_config = dataclasses.asdict(ctx.model.config)
    split = ctx.split(train_split)
    if heldout:
        indices, label_map, kept = training.heldout_split(datasets.split_labels(split), heldout)
    else:
        indices, label_map, kept = None, None, list(range(len(split.class_names)))

    model = classifier_lib.Classifier(
        ctx.model, classifier_lib.feature_dim(ctx.model), len(kept), rngs=nnx.Rngs(config.seed)
    )
    layers = family.num_layers(model_config)
    strategy = dict(strategy=block.strategy, last_blocks=block.last_blocks, layers=layers)

    def is_trainable(path: tuple) -> bool:
        depth = None if path[0] == "head" else family.layer_index(path[1:], model_config)
        return optim.trainable(path, depth, **strategy)

    optim_config = optim.OptimConfig(
        learning_rate=block.learning_rate,
        min_learning_rate=block.min_learning_rate,
        warmup_steps=block.warmup_steps,
        total_steps=block.num_steps // block.accum_steps,
        weight_decay=block.weight_decay,
        layer_decay=block.layer_decay,
        clip_norm=block.clip_norm,
        accum_steps=block.accum_steps,
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
        label_smoothing=block.label_smoothing,
        accum_steps=block.accum_steps,
    )
    global_batch = block.batch_per_device * ctx.mesh.devices.size
    row_start, row_count = parallel.process_batch_slice(global_batch, ctx.mesh)
    dataset = training.train_dataset(
        split.source,
        ctx.spec,
        augment_lib.AugmentConfig(**block.augment.to_dict()),
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
        os.path.join(ctx.workdir, "checkpoints"), keep=block.keep_checkpoints, best_metric="val_accuracy"
    )
    state = trainer.init_state(config.seed)
    start = checkpoints.latest_step()
    if start is not None:
        state = checkpoints.restore(start, state, iterator)
        logging.info("resuming from the checkpoint at step %d", start)

    # Compiled once; each validation only swaps in the current weights.
    val_extractor = ctx.extractor(trainer.model(state), output=logits, output_name=HEAD_OUTPUT)

    def validate(state) -> float:
        val_extractor.set_model(trainer.model(state))
        head = ctx.vectors([val_split], val_extractor, cache=False)[val_split]
        labels, predictions = protocol.head_predictions(head, kept)
        return float((predictions == labels).mean()) if len(labels) else float("nan")

    state = loop.train(
        trainer,
        state,
        iterator,
        checkpoints,
        start_step=start or 0,
        num_steps=block.num_steps,
        global_batch=global_batch,
        log_every=block.log_every,
        checkpoint_every=block.checkpoint_every,
        validate=validate,
        logdir=ctx.workdir,
        is_main=ctx.is_main,
        desc=desc,
    )
    checkpoints.close()
    return Trained(trainer, state, kept)


def encoder_params(encoder: nnx.Module) -> dict[str, np.ndarray]:
    """{dotted path: float32 array} of the encoder's trainable parameters, as `models.load` reads them."""
    params = nnx.state(encoder, nnx.Param)
    return {
        ".".join(map(str, path)): np.asarray(jax.device_get(v.get_value()))
        for path, v in nnx.to_flat_state(params)
    }
