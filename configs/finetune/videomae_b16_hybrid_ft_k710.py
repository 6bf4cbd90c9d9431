r"""Fine-tuning on RoCoG-v2 synthetic ground videos: VideoMAE ViT-B/16 (UnlabeledHybrid pre-training, v1 code) fine-tuned on K710.

Does fine-tuning on synthetic gestures beat training-free KNN on real ones? The encoder of the paper row
configs/paper/videomae_b16_hybrid_ft_k710.py (same converted checkpoint, see its docstring for the conversion) is fine-tuned
on `rocog_v2/syn_ground:train` (best checkpoint on `syn_ground:val`) and evaluated on the real ground
test videos frozen, with its weights interpolated towards the fine-tuned ones (α = 0.25, 0.5, 0.75) and
fine-tuned: KNN (the paper's k=3, L2), prototypes and a linear probe with the synthetic and the real
train gallery, and the classifier head. With the argument "unseen", Rally and FollowMe are held out of
fine-tuning and every row is reported on the seen and the novel classes apart, with their harmonic mean
(results.md, results.json's `harmonic_mean`) and interpolation.png.

  python -m gesture_jax.main --config configs/finetune/videomae_b16_hybrid_ft_k710.py --workdir workdirs/finetune/videomae_b16_hybrid_ft_k710
  python -m gesture_jax.main --config configs/finetune/videomae_b16_hybrid_ft_k710.py:unseen --workdir workdirs/finetune/videomae_b16_hybrid_ft_k710_unseen
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: "" (every class in fine-tuning) or "unseen" (Rally and FollowMe held out)."""
    return config_lib.rocog_finetune("videomae-b16", "checkpoints/videomae_b16_hybrid_ft_k710", arg)
