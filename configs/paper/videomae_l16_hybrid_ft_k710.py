r"""Paper row: VideoMAE ViT-L/16 (UnlabeledHybrid pre-training) fine-tuned on K710.

KNN (k=3, L2) on RoCoG-v2 real test videos with a synthetic and a real train gallery. The argument picks the
protocol (config_lib.KNN_PROTOCOLS): "ground" (default, the paper's table), "air", "cross" (ground
galleries, air test videos).
Checkpoint: `mae-l/pytorch_model.bin` of HF `OpenGVLab/VideoMAE2`, the only file in that folder (no
`vit_l_hybrid_pt_800e_k710_ft.pth` exists there; see the README's checkpoint catalogue). Whether it is the
K710 fine-tune is unconfirmed: after converting, `model.json`'s `model_config.num_classes` says 710 for a
K710 head, 0 with `use_mean_pooling: false` for a pre-training file (encoder kept, decoder dropped by rule).
A file holding two weight sets (e.g. `model` and `model_ema`) converts from `model`, as the official
loaders do; convert warns naming both, and `--state_key model_ema` takes the other. Converted once with

  python -m gesture_jax.convert --family videomae_v1 --variant videomae-l16 --src mae-l/pytorch_model.bin \
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
