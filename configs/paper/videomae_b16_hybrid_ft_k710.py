r"""Paper row: VideoMAE ViT-B/16 (UnlabeledHybrid pre-training, v1 code) fine-tuned on K710.

KNN (k=3, L2) on RoCoG-v2 real test videos with a synthetic and a real train gallery. The argument picks the
protocol (config_lib.KNN_PROTOCOLS): "ground" (default, the paper's table), "air", "cross" (ground
galleries, air test videos).
Checkpoint: `vit_b_hybrid_pt_800e_k710_ft.pth` (see the README's checkpoint catalogue), converted once with

  python -m gesture_jax.convert --family videomae_v1 --variant videomae-b16 --src vit_b_hybrid_pt_800e_k710_ft.pth \
      --dst checkpoints/videomae_b16_hybrid_ft_k710

then

  python -m gesture_jax.main --config configs/paper/videomae_b16_hybrid_ft_k710.py --workdir workdirs/paper/videomae_b16_hybrid_ft_k710
  python -m gesture_jax.main --config configs/paper/videomae_b16_hybrid_ft_k710.py:air --workdir workdirs/paper/videomae_b16_hybrid_ft_k710_air
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: the protocol, "ground" (default), "air" or "cross"."""
    config = config_lib.paper_knn_row(
        "videomae-b16", checkpoint="checkpoints/videomae_b16_hybrid_ft_k710", protocol=arg
    )
    return config
