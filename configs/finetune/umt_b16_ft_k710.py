r"""Fine-tuning UMT ViT-B/16 fine-tuned on K710 on RoCoG-v2 synthetic ground videos.

The checkpoint is the paper row's (configs/paper/umt_b16_ft_k710.py says how to convert it). What runs and what
is reported: config_lib.rocog_finetune; "unseen" holds Rally and FollowMe out (seen vs novel classes).

  python -m gesture_jax.main --config configs/finetune/umt_b16_ft_k710.py --workdir workdirs/finetune/umt_b16_ft_k710
  python -m gesture_jax.main --config configs/finetune/umt_b16_ft_k710.py:unseen --workdir workdirs/finetune/umt_b16_ft_k710_unseen
"""

from gesture_jax import config_lib


def get_config(arg: str | None = None):
    return config_lib.rocog_finetune("umt-b16", "checkpoints/umt_b16_ft_k710", arg)
