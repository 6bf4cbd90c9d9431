r"""KNN with an encoder the paper did not have (V-JEPA 2 and 2.1, VideoPrism, SigLIP 2, DINOv2, VideoMAE in
transformers' format): the paper's protocol, synthetic vs real gallery, frozen features.

The argument names a registered encoder of those families (`python -m gesture_jax.convert --list`;
default vjepa2-vitl), optionally followed by ",air" or ",cross" for the other protocols (config_lib.KNN_PROTOCOLS). Its converted checkpoint is
expected at checkpoints/<encoder> (the README's catalogue gives the convert command for each), e.g.

  python -m gesture_jax.convert --family dinov2 --src dinov2-base --dst checkpoints/dinov2-b14
  python -m gesture_jax.main --config configs/more_encoders/knn.py:dinov2-b14 --workdir workdirs/knn_dinov2_b14
  python -m gesture_jax.main --config configs/more_encoders/knn.py:dinov2-b14,air --workdir workdirs/knn_dinov2_b14_air
"""

import ml_collections

from gesture_jax import config_lib, models

# Every family added after the paper, in the order the README's catalogue lists them.
FAMILIES = ("vjepa2", "vjepa21", "videoprism", "siglip", "dinov2", "videomae_hf")


def encoders() -> list[str]:
    """The registered encoders of those families (the rows of configs/paper/more_encoders_table.py)."""
    return [n for f in FAMILIES for n in models.names() if models.get(n).family == f]


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: "<encoder>[,<protocol>]" (default: the first, vjepa2-vitl)."""
    name, _, protocol = (arg or encoders()[0]).partition(",")
    if name not in encoders():
        raise ValueError(f"configs/more_encoders/knn.py takes one of {encoders()}, got {name!r}")
    return config_lib.paper_knn_row(name, checkpoint=f"checkpoints/{name}", protocol=protocol or None)
