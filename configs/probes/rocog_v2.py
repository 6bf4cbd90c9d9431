r"""Token probes on RoCoG-v2: V-JEPA 2's attentive probe and VideoGLUE's pooler beside the paper's KNN, the
KNN sweep, prototypes and the linear probe, synthetic vs real ground gallery, real ground test videos.

The argument is "<encoder>[,<option>]": a row of the paper's table (`config_lib.PAPER_ROWS`, checkpoint in
checkpoints/<row>) or a newer encoder (configs/more_encoders/knn.py's, checkpoint in
checkpoints/<encoder>); option "pooled" averages the tokens over 2×2 patches (a quarter of the disk and
less than a quarter of the probes' time), "layers" gives the probes the outputs of four blocks counted
from the end, V-JEPA 2's Jester choice for ViT-L (blocks 17, 19, 21 and 23 of 24), concatenated along the
token axis as theirs (as the family's hidden states give them: V-JEPA 2's own multi-level wrapper passes
each through the final LayerNorm, transformers' hidden states and ours do not). Everything else is
V-JEPA 2's frozen evaluation: its 20-member grid, 20 epochs, batches of 32 (theirs: 256 over 64 GPUs), 3
seeds, each member chosen on syn_ground:val / real_ground:val_tsonly, never on the test videos.

  python -m gesture_jax.main --config configs/probes/rocog_v2.py:umt_b16_ft_k710 --workdir workdirs/probes/umt
  python -m gesture_jax.main --config configs/probes/rocog_v2.py:vjepa2-vitl,pooled --workdir workdirs/probes/vjepa2_pooled

A ground gallery's tokens at ViT-B/16 (1,568 tokens × 768 channels, float16) take 2.4 MB a video, about
105 GB for syn_ground's train split; pooled 2×2, 26 GB (docs/protocol.md, "Token probes").
"""

import ml_collections

from gesture_jax import config_lib
from gesture_jax.config_lib import catalogue

OPTIONS = ("pooled", "layers")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    choices = [*config_lib.PAPER_ROWS, *config_lib.load_module("configs/more_encoders/knn.py").encoders()]
    name, option = catalogue.pick(
        arg, choices, file="configs/probes/rocog_v2.py", default="umt_b16_ft_k710", options=OPTIONS
    )
    if name in config_lib.PAPER_ROWS:
        config = config_lib.paper_row(name)
    else:
        config = config_lib.paper_knn_row(name, checkpoint=f"checkpoints/{name}")
    config.evals = ("probes", "attentive")
    config.attentive = config_lib.attentive(galleries=config.knn.galleries, queries=config.knn.queries)
    if option == "pooled":
        config.attentive.tokens.pool = (2, 2)
    if option == "layers":
        config.attentive.tokens.layers = (-7, -5, -3, -1)
    return config
