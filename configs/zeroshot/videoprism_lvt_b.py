r"""Zero-shot VideoPrism LvT base (16 frames, 288²) on RoCoG-v2's real ground test videos, one result row per prompt set.

The paper's method B with a text tower it did not have. The weights (google/videoprism-lvt-base-f16r288) are converted once with
gesture_jax.convert. The prompts are tokenised with the c4_en SentencePiece model (T5's cc_en.32000,
gs://t5-data/vocabs/cc_en.32000/sentencepiece.model), expected at checkpoints/c4_en.sentencepiece.model
(--config.zeroshot.vocab_path names another copy), and scored as the official colab does: softmax of
100 · cosine. The RoCoG-v2 dataset must be built in data_dir.

  python -m gesture_jax.convert --family videoprism --variant videoprism-lvt-b --src flax_lvt_base_f16r288_repeated.npz --dst checkpoints/videoprism-lvt-b
  python -m gesture_jax.main --config configs/zeroshot/videoprism_lvt_b.py --workdir workdirs/zeroshot_videoprism_lvt_b \
      --config.data.data_dir=/data/tfds
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    if arg not in (None, ""):
        raise ValueError(f"configs/zeroshot/videoprism_lvt_b.py takes no argument, got {arg!r}")
    config = config_lib.paper_zeroshot("videoprism-lvt-b", checkpoint="checkpoints/videoprism-lvt-b")
    config.zeroshot.vocab_path = "checkpoints/c4_en.sentencepiece.model"
    return config
