r"""Zero-shot ViCLIP ViT-B/16 on RoCoG-v2's real ground test videos, one result row per prompt set.

The paper's method B. The weights are an official ViCLIP B/16 release (ViCLIP's official demo and release) converted
once with gesture_jax.convert; the prompts need OpenAI's CLIP merges file (see gesture_jax.text's error
message). The RoCoG-v2 dataset must be built in data_dir (it needs the manual download).

  python -m gesture_jax.convert --family viclip --variant viclip-b16 --src <official checkpoint> \
      --dst checkpoints/viclip-b16
  python -m gesture_jax.main --config configs/zeroshot/viclip_b16.py --workdir workdirs/zeroshot_viclip_b16 \
      --config.data.data_dir=/data/tfds
  # another checkpoint directory, one prompt set, bfloat16 compute:
  python -m gesture_jax.main --config configs/zeroshot/viclip_b16.py --workdir workdirs/zs_b16_names \
      --config.encoder.checkpoint=/ckpts/viclip-b16 --config.zeroshot.prompt_sets="('names',)" \
      --config.encoder.dtype=bfloat16
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    if arg not in (None, ""):
        raise ValueError(f"configs/zeroshot/viclip_b16.py takes no argument, got {arg!r}")
    return config_lib.paper_zeroshot("viclip-b16", checkpoint="checkpoints/viclip-b16")
