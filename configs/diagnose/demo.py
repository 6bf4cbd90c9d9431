r"""Toy domain-gap diagnosis: how far the synthetic toy gestures sit from the real-look ones in the frozen
pre-trained toy encoder's features (MMD², Fréchet, proxy A-distance, class gaps, neighbour provenance,
t-SNE), beside the paper's KNN with the synthetic, real and mixed galleries; which of the toy generator's
parameters (timing, body, placement) the useful synthetic neighbours have, leave-one-value-out
ablations, and a synthetic gallery curated on the real train split, scored on the real test split.

  python -m gesture_jax.main --config configs/diagnose/demo.py --workdir workdirs/diagnose_demo
  python -m gesture_jax.main --config configs/diagnose/demo.py:smoke --workdir workdirs/diagnose_smoke
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: "" for the full toy sets, "smoke" for the small ones."""
    config, toy = config_lib.toy_experiment("diagnose", file="configs/diagnose/demo.py", arg=arg)
    config.diagnose = config_lib.diagnose(
        synthetic=toy.gestures("synthetic", "train"),
        real_gallery=toy.gestures("real", "train"),
        queries=toy.gestures("real", "test"),
        selection=toy.gestures("real", "train"),  # the toy real set has no val split
    )
    if arg == "smoke":
        config.diagnose.num_permutations = 50
    return config
