r"""Domain-gap diagnosis on RoCoG-v2 for the paper row's encoder: UMT ViT-B/16 fine-tuned on K710 then K400.

Mode diagnose with the encoder (and converted checkpoint) of configs/paper/umt_b16_ft_k710_k400.py: KNN with the
synthetic, real and mixed galleries, MMD², Fréchet and proxy A-distance between the splits, t-SNE,
attribution of the synthetic gallery to the generator's parameters (avatar, terrain, camera, ...) with
leave-one-value-out ablations, and a synthetic gallery curated on the query view's real train split.
The argument picks the protocol (config_lib.KNN_PROTOCOLS): "ground" (default), "air", "cross" (ground
galleries, air test videos).

  python -m gesture_jax.main --config configs/diagnose/umt_b16_ft_k710_k400.py --workdir workdirs/diagnose/umt_b16_ft_k710_k400
  python -m gesture_jax.main --config configs/diagnose/umt_b16_ft_k710_k400.py:air --workdir workdirs/diagnose/umt_b16_ft_k710_k400_air
  python -m gesture_jax.main --config configs/diagnose/umt_b16_ft_k710_k400.py:cross --workdir workdirs/diagnose/umt_b16_ft_k710_k400_cross
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: the protocol, "ground" (default), "air" or "cross"."""
    return config_lib.paper_diagnose("umt_b16_ft_k710_k400", arg)
