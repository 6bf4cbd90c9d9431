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
from collections.abc import Callable

import jax
import ml_collections
import numpy as np
from flax import nnx

from gesture_jax import models
from gesture_jax.data import augment as augment_lib
from gesture_jax.data import datasets, training
from gesture_jax.data.spec import VideoSpec
from gesture_jax.infra import checkpointing, parallel
from gesture_jax.models import classifier as classifier_lib
from gesture_jax.train import loop, optim
from gesture_jax.train import trainer as trainer_lib

HEAD_OUTPUT = "classifier head logits over the pooled feature"


def logits(model, video):
    """The classifier's output, as an extractor's `output` function."""
    return model(video)


@dataclasses.dataclass(frozen=True)
class Setting:
    """Where a classifier trains, as plain values (a run context supplies them): the training split, the
    encoder's input spec, the mesh, the seed, decoding threads, the folder for checkpoints and summaries."""

    split: datasets.Split
    spec: VideoSpec
    mesh: jax.sharding.Mesh
    seed: int
    num_threads: int
    workdir: str  # checkpoints in <workdir>/checkpoints, TensorBoard summaries in <workdir>
    is_main: bool


# (classifier, the split's class index of each head output) -> head accuracy on validation videos
Validate = Callable[[nnx.Module, list[int]], float]


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
    encoder: nnx.Module,
    encoder_name: str,
    block: ml_collections.ConfigDict,
    setting: Setting,
    *,
    validate: Validate,
    heldout: tuple[int, ...] = (),
    desc: str = "training",
) -> Trained:
    """Trains `encoder` with a new head on ``setting.split`` (without the `heldout` classes), checkpointing
    in ``<workdir>/checkpoints`` and keeping the best by `validate`'s head accuracy."""
    family = models.family_module(models.get(encoder_name).family)
    model_config = dataclasses.asdict(encoder.config)
    split = setting.split
    if heldout:
        indices, label_map, kept = training.heldout_split(datasets.split_labels(split), heldout)
    else:
        indices, label_map, kept = None, None, list(range(len(split.class_names)))

    model = classifier_lib.Classifier(
        encoder, classifier_lib.feature_dim(encoder), len(kept), rngs=nnx.Rngs(setting.seed)
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
        spec=setting.spec,
        mesh=setting.mesh,
        num_classes=len(kept),
        label_smoothing=block.label_smoothing,
        accum_steps=block.accum_steps,
    )
    global_batch = block.batch_per_device * setting.mesh.devices.size
    row_start, row_count = parallel.process_batch_slice(global_batch, setting.mesh)
    dataset = training.train_dataset(
        split.source,
        setting.spec,
        augment_lib.AugmentConfig(**block.augment.to_dict()),
        seed=setting.seed,
        global_batch=global_batch,
        row_start=row_start,
        rows=row_count,
        indices=indices,
        label_map=label_map,
        num_threads=setting.num_threads,
    )
    iterator = iter(dataset)
    checkpoints = checkpointing.TrainCheckpoints(
        os.path.join(setting.workdir, "checkpoints"), keep=block.keep_checkpoints, best_metric="val_accuracy"
    )
    state = trainer.init_state(setting.seed)
    start = checkpoints.latest_step()
    if start is not None:
        state = checkpoints.restore(start, state, iterator)
        logging.info("resuming from the checkpoint at step %d", start)

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
        validate=lambda state: validate(trainer.model(state), kept),
        logdir=setting.workdir,
        is_main=setting.is_main,
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
