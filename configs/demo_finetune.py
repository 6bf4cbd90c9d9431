r"""Toy fine-tuning demo: the study's intervention in miniature. Does fine-tuning the pre-trained toy encoder
on synthetic toy gestures make its features better for real-looking ones?

KNN on the real toy test split with the synthetic and the real gallery, with the frozen pre-trained
encoder (`toy-vit-pretrained`, as in configs/demo.py) and after fine-tuning it on the synthetic train
split; the head's accuracy on synthetic val and real test. Checkpoints land in the workdir and the run
resumes from them when started again.

  python -m gesture_jax.main --config configs/demo_finetune.py --workdir workdirs/demo_finetune
  python -m gesture_jax.main --config configs/demo_finetune.py:smoke --workdir workdirs/demo_finetune_smoke
  python -m gesture_jax.main --config configs/demo_finetune.py:unseen --workdir workdirs/demo_unseen

  python -m gesture_jax.main --config configs/demo_finetune.py:unseen_smoke --workdir workdirs/demo_unseen_smoke

`smoke`: the small toy sets and a few dozen steps (under a minute), still checkpointing several times;
the paper's KNN and the head only (no probes, no interpolated weights).
`unseen`: Rally and FollowMe are left out of fine-tuning, as the real protocol holds classes out. Every
row is then a base-to-novel row: the real test videos of the five seen classes and of the two novel ones,
each classified among its own classes (KNN, prototypes and a linear probe on the synthetic and the real
gallery; real few-shot galleries of the novel classes), for the frozen encoder, the weights interpolated
towards the fine-tuned ones (α = 0.25, 0.5, 0.75) and the fine-tuned encoder. results.md has the seen,
novel and harmonic-mean table and interpolation.png the curves against α.
`unseen_smoke`: the same on the small toy sets with a few dozen steps and α = 0.5 only (under a minute
on 2 cores).
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    config, toy = config_lib.toy_experiment(
        "finetune",
        file="configs/demo_finetune.py",
        arg=arg,
        variants=("smoke", "unseen", "unseen_smoke"),
        seed=0,
    )
    smoke = toy.small
    config.finetune = config_lib.finetune(
        train_split=toy.gestures("synthetic", "train"),
        val_split=toy.gestures("synthetic", "val"),
        test_split=toy.gestures("real", "test"),
        real_gallery=toy.gestures("real", "train"),
        num_steps=24 if smoke else 600,
        batch_per_device=8 if smoke else 32,
        learning_rate=1e-3,
        warmup_steps=4 if smoke else 40,
        layer_decay=0.75,
        drop_path=0.0,
        checkpoint_every=6 if smoke else 150,
        log_every=2 if smoke else 10,
        heldout_classes=(2, 5) if arg in ("unseen", "unseen_smoke") else (),
        shots=(1, 0) if smoke else (1, 2, 4, 0),
        # `smoke` checks training and resuming: the paper's KNN and the head, no probes or interpolation.
        alphas=(0.0, 1.0) if arg == "smoke" else (0.0, 0.5, 1.0) if smoke else (0.0, 0.25, 0.5, 0.75, 1.0),
        probes=() if arg == "smoke" else ("prototype", "linear_probe"),
        num_folds=3 if smoke else 5,
    )
    # Milder than the default augmentation: the toy figures are small and the run is short.
    config.finetune.augment.update(
        crop_scale=(0.6, 1.0), brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05
    )
    return config
