r"""Paper row: VideoMAE ViT-L/16 (UnlabeledHybrid pre-training) fine-tuned on K710.

KNN (k=3, L2) on RoCoG-v2 real ground test videos with the synthetic and the real ground train galleries.
Checkpoint: `vit_l_hybrid_pt_800e_k710_ft.pth` (file name unconfirmed) (see the README's checkpoint catalogue), converted once with

  python -m gesture_jax.convert --family videomae_v1 --variant videomae-l16 --src vit_l_hybrid_pt_800e_k710_ft.pth \
      --dst checkpoints/videomae_l16_hybrid_ft_k710

then

  python -m gesture_jax.main --config configs/paper/videomae_l16_hybrid_ft_k710.py --workdir workdirs/paper/videomae_l16_hybrid_ft_k710
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    del arg  # no variants
    config = config_lib.paper_knn_row("videomae-l16", checkpoint="checkpoints/videomae_l16_hybrid_ft_k710")
    return config
