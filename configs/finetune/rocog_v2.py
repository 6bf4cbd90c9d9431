r"""Fine-tuning a paper row's encoder on RoCoG-v2 synthetic ground videos (a CLIP model: its video tower).

The checkpoint is the row's (configs/paper/knn.py says how to convert it). What runs and what is reported:
`config_lib.rocog_finetune`. The argument is "<row>[,unseen]": a row of `config_lib.PAPER_ROWS` (default
umt_b16_ft_k710); "unseen" holds Rally and FollowMe out of fine-tuning (seen vs novel classes).

  python -m gesture_jax.main --config configs/finetune/rocog_v2.py:viclip_b16 --workdir workdirs/finetune/viclip_b16
  python -m gesture_jax.main --config configs/finetune/rocog_v2.py:viclip_b16,unseen --workdir workdirs/finetune/viclip_b16_unseen
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    return config_lib.rocog_finetune(
        *config_lib.pick_row(arg, file="configs/finetune/rocog_v2.py", options=("unseen",))
    )
