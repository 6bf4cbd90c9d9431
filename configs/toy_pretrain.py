r"""Pre-training of the toy ViT on the toy world's everyday motions, its Kinetics: the shipped encoder.

The toy ViT (`toy-vit`, random init) and a classification head are trained on the 25 everyday motions of
`toy_motions/neutral` (none of them a gesture; a neutral look, neither synthetic nor real) with the
fine-tuning machinery (AdamW, warmup + cosine, augmentation, Orbax checkpoints, exact resume). The
encoder is then exported, with its provenance in model.json, to `<workdir>/encoder`. The encoder
registered as `toy-vit-pretrained` (gesture_jax/models/weights/toy-vit-pretrained) is this config's
output: the README's "Toy world" section states its steps and parameter checksum.

  python -m gesture_jax.main --config configs/toy_pretrain.py --workdir workdirs/toy_pretrain
  python -m gesture_jax.main --config configs/toy_pretrain.py:smoke --workdir workdirs/toy_pretrain_smoke

`smoke`: the small corpus and a few dozen steps (under a minute).
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    config, toy = config_lib.toy_experiment(
        "pretrain", file="configs/toy_pretrain.py", arg=arg, encoder_name="toy-vit", seed=0
    )
    smoke = toy.small
    config.pretrain = config_lib.pretrain(
        train_split=toy.motions("train"),
        val_split=toy.motions("val"),
        num_steps=24 if smoke else 1000,
        batch_per_device=8 if smoke else 32,
        learning_rate=2e-3,
        warmup_steps=4 if smoke else 50,
        layer_decay=1.0,  # from random weights: every layer learns at the full rate
        drop_path=0.0,
        checkpoint_every=8 if smoke else 250,
        log_every=2 if smoke else 25,
    )
    config.pretrain.augment.update(
        crop_scale=(0.6, 1.0), brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1
    )
    return config
