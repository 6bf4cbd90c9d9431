r"""Zero-shot SigLIP 2 ViT-B/16 (224²) on RoCoG-v2's real ground test videos, one result row per prompt set.

The paper's method B with a text tower it did not have. The weights (google/siglip2-base-patch16-224) are converted once with
gesture_jax.convert. The prompts are tokenised with the SigLIP 2 tokenizer files of the folder it was converted from (model.json
records it; --config.zeroshot.vocab_path names another), scored by SigLIP's sigmoid rule with the
converted logit scale and bias. The RoCoG-v2 dataset must be built in data_dir.

  python -m gesture_jax.convert --family siglip --src siglip2-base-patch16-224 --dst checkpoints/siglip2-b16
  python -m gesture_jax.main --config configs/zeroshot/siglip2_b16.py --workdir workdirs/zeroshot_siglip2_b16 \
      --config.data.data_dir=/data/tfds
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    if arg not in (None, ""):
        raise ValueError(f"configs/zeroshot/siglip2_b16.py takes no argument, got {arg!r}")
    config = config_lib.paper_zeroshot("siglip2-b16", checkpoint="checkpoints/siglip2-b16")
    return config
