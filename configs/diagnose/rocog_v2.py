r"""Domain-gap diagnosis on RoCoG-v2 for a paper row's encoder.

Mode diagnose with the row's encoder and converted checkpoint (configs/paper/knn.py says how to convert
it): KNN with the synthetic, real and mixed galleries, MMD², Fréchet and proxy A-distance between the
splits, t-SNE, attribution of the synthetic gallery to the generator's parameters (avatar, terrain,
camera, ...) with leave-one-value-out ablations, and a synthetic gallery curated on the query view's real
train split. The argument is "<row>[,<protocol>]": a row of `config_lib.PAPER_ROWS` (default
umt_b16_ft_k710) and "ground" (default), "air" or "cross" (ground galleries, air test videos).

  python -m gesture_jax.main --config configs/diagnose/rocog_v2.py:viclip_b16 --workdir workdirs/diagnose/viclip_b16
  python -m gesture_jax.main --config configs/diagnose/rocog_v2.py:viclip_b16,air --workdir workdirs/diagnose/viclip_b16_air
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    protocols = tuple(config_lib.KNN_PROTOCOLS)
    row, protocol = config_lib.pick_row(arg, file="configs/diagnose/rocog_v2.py", options=protocols)
    return config_lib.paper_diagnose(row, protocol or None)
