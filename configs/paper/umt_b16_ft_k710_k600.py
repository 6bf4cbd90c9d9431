r"""Paper row: UMT ViT-B/16 fine-tuned on K710 then K600.

KNN (k=3, L2) on RoCoG-v2 real ground test videos with the synthetic and the real ground train galleries.
Checkpoint: `b16_ptk710_ftk710_ftk600_f8_res224.pth` (see the README's checkpoint catalogue), converted once with

  python -m gesture_jax.convert --family umt --variant umt-b16 --src b16_ptk710_ftk710_ftk600_f8_res224.pth \
      --dst checkpoints/umt_b16_ft_k710_k600

then

  python -m gesture_jax.main --config configs/paper/umt_b16_ft_k710_k600.py --workdir workdirs/paper/umt_b16_ft_k710_k600
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    del arg  # no variants
    config = config_lib.paper_knn_row("umt-b16", checkpoint="checkpoints/umt_b16_ft_k710_k600")
    return config
