r"""Paper row: ViCLIP ViT-B/16 trained on InternVid-10M-FLT.

KNN (k=3, L2) on RoCoG-v2 real test videos with a synthetic and a real train gallery. The argument picks the
protocol (config_lib.KNN_PROTOCOLS): "ground" (default, the paper's table), "air", "cross" (ground
galleries, air test videos).
Checkpoint: `ViCLIP-B-16-hf/model.safetensors` (see the README's checkpoint catalogue), converted once with

  python -m gesture_jax.convert --family viclip --variant viclip-b16 --src model.safetensors \
      --dst checkpoints/viclip_b16

then

  python -m gesture_jax.main --config configs/paper/viclip_b16.py --workdir workdirs/paper/viclip_b16
  python -m gesture_jax.main --config configs/paper/viclip_b16.py:air --workdir workdirs/paper/viclip_b16_air
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: the protocol, "ground" (default), "air" or "cross"."""
    config = config_lib.paper_knn_row("viclip-b16", checkpoint="checkpoints/viclip_b16", protocol=arg)
    return config
