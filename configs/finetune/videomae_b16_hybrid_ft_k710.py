r"""Fine-tuning VideoMAE ViT-B/16 (UnlabeledHybrid pre-training, v1 code) fine-tuned on K710 on RoCoG-v2 synthetic ground videos.

The checkpoint is the paper row's (configs/paper/videomae_b16_hybrid_ft_k710.py says how to convert it). What runs and what
is reported: config_lib.rocog_finetune; "unseen" holds Rally and FollowMe out (seen vs novel classes).

  python -m gesture_jax.main --config configs/finetune/videomae_b16_hybrid_ft_k710.py --workdir workdirs/finetune/videomae_b16_hybrid_ft_k710
  python -m gesture_jax.main --config configs/finetune/videomae_b16_hybrid_ft_k710.py:unseen --workdir workdirs/finetune/videomae_b16_hybrid_ft_k710_unseen
"""

from gesture_jax import config_lib


def get_config(arg: str | None = None):
    return config_lib.rocog_finetune("videomae-b16", "checkpoints/videomae_b16_hybrid_ft_k710", arg)
