r"""Zero-shot classification of RoCoG-v2's real ground test videos by an encoder with a text tower.

The paper's method B, one result row per prompt set, with the prompt lab. The argument names an encoder
of `config_lib.ZEROSHOT_ENCODERS` (default viclip-b16): ViCLIP B/16 and L/14 (the paper's; prompts use
OpenAI's CLIP merges file, shipped with the package), SigLIP 2 B/16 and So400m/14
(tokenised with the SigLIP 2 tokenizer files of the folder the checkpoint was converted from, scored by
SigLIP's sigmoid rule with the converted logit scale and bias) and VideoPrism LvT B and L (T5's c4_en
SentencePiece model expected at checkpoints/c4_en.sentencepiece.model; softmax of 100 · cosine as the
official colab). The converted checkpoint is expected at checkpoints/<weights>: the paper row's name for the
paper's weights (checkpoints/viclip_b16), the encoder's for the others (checkpoints/siglip2-b16);
--config.zeroshot.vocab_path names another vocabulary. The RoCoG-v2 dataset must be built in data_dir.

  python -m gesture_jax.convert --family viclip --variant viclip-b16 --src <official checkpoint> --dst checkpoints/viclip_b16
  python -m gesture_jax.convert --family siglip --src siglip2-base-patch16-224 --dst checkpoints/siglip2-b16
  python -m gesture_jax.convert --family videoprism --variant videoprism-lvt-b --src flax_lvt_base_f16r288_repeated.npz --dst checkpoints/videoprism-lvt-b
  python -m gesture_jax.main --config configs/zeroshot/rocog_v2.py:viclip-b16 --workdir workdirs/zeroshot_viclip_b16 \
      --config.data.data_dir=/data/tfds
  # another checkpoint directory, one prompt set, bfloat16 compute:
  python -m gesture_jax.main --config configs/zeroshot/rocog_v2.py:viclip-l14 --workdir workdirs/zs_l14_names \
      --config.encoder.checkpoint=/ckpts/viclip-l14 --config.zeroshot.prompt_sets="('names',)" \
      --config.encoder.dtype=bfloat16
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    name, _ = config_lib.pick(
        arg, config_lib.ZEROSHOT_ENCODERS, file="configs/zeroshot/rocog_v2.py", default="viclip-b16"
    )
    return config_lib.paper_zeroshot(name)
