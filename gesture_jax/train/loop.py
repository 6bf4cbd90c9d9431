"""The fine-tuning loop: steps, logs, periodic validation and checkpoints, resumable at any checkpoint.

Plain arguments only: the mode builds the trainer, data iterator, checkpoints and the validation
callback from its config (gesture_jax/modes/finetune.py) and hands them here.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterator

import jax
from tqdm import tqdm

from gesture_jax.infra import checkpointing
from gesture_jax.train import summaries
from gesture_jax.train.trainer import Trainer


def train(
    trainer: Trainer,
    state: dict,
    iterator: Iterator,
    checkpoints: checkpointing.TrainCheckpoints,
    *,
    start_step: int,
    num_steps: int,
    global_batch: int,
    log_every: int,
    checkpoint_every: int,
    validate: Callable[[dict], float],
    logdir: str,
    is_main: bool,
    desc: str = "fine-tuning",
) -> dict:
    """Runs from `start_step` to `num_steps`; every `checkpoint_every` steps (and at the end) scores
    `validate(state)` (the best checkpoint is chosen by it) and saves state and data iterator."""
    logs = summaries.Summaries(logdir, enabled=is_main)
    bar = tqdm(
        total=num_steps,
        initial=start_step,
        desc=desc,
        unit="step",
        dynamic_ncols=True,
        disable=not is_main,
    )
    step = start_step
    try:  # the bar and the logs closed also when the run stops (Ctrl-C), not left to interpreter exit
        while step < num_steps:
            state, metrics = trainer.step(state, next(iterator))
            step += 1
            bar.update(1)
            if step % log_every == 0 or step == num_steps:
                values = {f"train/{k}": float(v) for k, v in jax.device_get(metrics).items()}
                values["train/clips_per_second"] = (bar.format_dict.get("rate") or 0.0) * global_batch
                logs.write(step, values)
                bar.set_postfix(
                    loss=f"{values['train/loss']:.3f}", clips_s=f"{values['train/clips_per_second']:.0f}"
                )
            if step % checkpoint_every == 0 or step == num_steps:
                val = validate(state)
                logs.write(step, {"val/accuracy": val})
                checkpoints.save(step, state, iterator, {"val_accuracy": val})
                logging.info("step %d: validation accuracy %.1f%% (checkpoint saved)", step, 100 * val)
    finally:
        bar.close()
        logs.close()
    return state
