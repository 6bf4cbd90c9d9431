r"""Domain-gap diagnosis on RoCoG-v2 for the paper row's encoder: ViCLIP ViT-B/16 trained on InternVid-10M-FLT.

Mode diagnose with the encoder (and converted checkpoint) of configs/paper/viclip_b16.py: KNN with the
synthetic, real and mixed galleries, MMD², Fréchet and proxy A-distance between the splits, t-SNE,
attribution of the synthetic gallery to the generator's parameters (avatar, terrain, camera, ...) with
leave-one-value-out ablations, and a synthetic gallery curated on the query view's real train split.
The argument picks the protocol (config_lib.KNN_PROTOCOLS): "ground" (default), "air", "cross" (ground
galleries, air test videos).

  python -m gesture_jax.main --config configs/diagnose/viclip_b16.py --workdir workdirs/diagnose/viclip_b16
  python -m gesture_jax.main --config configs/diagnose/viclip_b16.py:air --workdir workdirs/diagnose/viclip_b16_air
  python -m gesture_jax.main --config configs/diagnose/viclip_b16.py:cross --workdir workdirs/diagnose/viclip_b16_cross
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: the protocol, "ground" (default), "air" or "cross"."""
    return config_lib.paper_diagnose("viclip_b16", arg)
