r"""Fine-tuning ViCLIP ViT-B/16 (its video tower; the text tower is not trained) on RoCoG-v2 synthetic ground videos.

The checkpoint is the paper row's (configs/paper/viclip_b16.py says how to convert it). What runs and what
is reported: config_lib.rocog_finetune; "unseen" holds Rally and FollowMe out (seen vs novel classes).

  python -m gesture_jax.main --config configs/finetune/viclip_b16.py --workdir workdirs/finetune/viclip_b16
  python -m gesture_jax.main --config configs/finetune/viclip_b16.py:unseen --workdir workdirs/finetune/viclip_b16_unseen
"""

from gesture_jax import config_lib


def get_config(arg: str | None = None):
    return config_lib.rocog_finetune("viclip-b16", "checkpoints/viclip_b16", arg)
