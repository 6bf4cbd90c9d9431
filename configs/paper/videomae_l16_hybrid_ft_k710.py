r"""Paper row: VideoMAE ViT-L/16 (UnlabeledHybrid pre-training) fine-tuned on K710.

KNN (k=3, L2) on RoCoG-v2 real test videos with a synthetic and a real train gallery. The argument picks the
protocol (config_lib.KNN_PROTOCOLS): "ground" (default, the paper's table), "air", "cross" (ground
galleries, air test videos).
Checkpoint: `vit_l_hybrid_pt_800e_k710_ft.pth` (file name unconfirmed) (see the README's checkpoint catalogue), converted once with

  python -m gesture_jax.convert --family videomae_v1 --variant videomae-l16 --src vit_l_hybrid_pt_800e_k710_ft.pth \
      --dst checkpoints/videomae_l16_hybrid_ft_k710

then

  python -m gesture_jax.main --config configs/paper/videomae_l16_hybrid_ft_k710.py --workdir workdirs/paper/videomae_l16_hybrid_ft_k710
  python -m gesture_jax.main --config configs/paper/videomae_l16_hybrid_ft_k710.py:air --workdir workdirs/paper/videomae_l16_hybrid_ft_k710_air
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: the protocol, "ground" (default), "air" or "cross"."""
    config = config_lib.paper_knn_row(
        "videomae-l16", checkpoint="checkpoints/videomae_l16_hybrid_ft_k710", protocol=arg
    )
    return config
