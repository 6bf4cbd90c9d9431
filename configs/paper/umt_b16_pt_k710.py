r"""Paper row: UMT ViT-B/16 pre-trained on K710 (no fine-tuning).

KNN (k=3, L2) on RoCoG-v2 real test videos with a synthetic and a real train gallery. The argument picks the
protocol (config_lib.KNN_PROTOCOLS): "ground" (default, the paper's table), "air", "cross" (ground
galleries, air test videos).
Checkpoint: `b16_ptk710_f8_res224.pth` (see the README's checkpoint catalogue), converted once with

  python -m gesture_jax.convert --family umt --variant umt-b16 --src b16_ptk710_f8_res224.pth \
      --dst checkpoints/umt_b16_pt_k710

then

  python -m gesture_jax.main --config configs/paper/umt_b16_pt_k710.py --workdir workdirs/paper/umt_b16_pt_k710
  python -m gesture_jax.main --config configs/paper/umt_b16_pt_k710.py:air --workdir workdirs/paper/umt_b16_pt_k710_air
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: the protocol, "ground" (default), "air" or "cross"."""
    config = config_lib.paper_knn_row("umt-b16", checkpoint="checkpoints/umt_b16_pt_k710", protocol=arg)
    return config
