r"""Zero-shot VideoPrism LvT large (8 frames, 288²) on RoCoG-v2's real ground test videos, one result row per prompt set.

The paper's method B with a text tower it did not have. The weights (google/videoprism-lvt-large-f8r288) are converted once with
gesture_jax.convert. The prompts are tokenised with the c4_en SentencePiece model (T5's cc_en.32000,
gs://t5-data/vocabs/cc_en.32000/sentencepiece.model), expected at checkpoints/c4_en.sentencepiece.model
(--config.zeroshot.vocab_path names another copy), and scored as the official colab does: softmax of
100 · cosine. The RoCoG-v2 dataset must be built in data_dir.

  python -m gesture_jax.convert --family videoprism --variant videoprism-lvt-l --src flax_lvt_large_f8r288_repeated.npz --dst checkpoints/videoprism-lvt-l
  python -m gesture_jax.main --config configs/zeroshot/videoprism_lvt_l.py --workdir workdirs/zeroshot_videoprism_lvt_l \
      --config.data.data_dir=/data/tfds
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    if arg not in (None, ""):
        raise ValueError(f"configs/zeroshot/videoprism_lvt_l.py takes no argument, got {arg!r}")
    config = config_lib.paper_zeroshot("videoprism-lvt-l", checkpoint="checkpoints/videoprism-lvt-l")
    config.zeroshot.vocab_path = "checkpoints/c4_en.sentencepiece.model"
    return config
