r"""Paper row: ViCLIP ViT-B/16 trained on InternVid-10M-FLT.

KNN (k=3, L2) on RoCoG-v2 real ground test videos with the synthetic and the real ground train galleries.
Checkpoint: `ViCLIP-B-16-hf/model.safetensors` (see the README's checkpoint catalogue), converted once with

  python -m gesture_jax.convert --family viclip --variant viclip-b16 --src model.safetensors \
      --dst checkpoints/viclip_b16

then

  python -m gesture_jax.main --config configs/paper/viclip_b16.py --workdir workdirs/paper/viclip_b16
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    del arg  # no variants
    config = config_lib.paper_knn_row("viclip-b16", checkpoint="checkpoints/viclip_b16")
    return config
