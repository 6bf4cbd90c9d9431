r"""Toy few-shot and mixing curves: real toy test videos labelled from n real videos per class, alone and
added to the synthetic gallery, averaged over 5 draws, with a plot, from the frozen pre-trained toy encoder
(`toy-vit-pretrained`, as in configs/demo.py).

  python -m gesture_jax.main --config configs/curves/demo.py --workdir workdirs/curves_demo
  python -m gesture_jax.main --config configs/curves/demo.py:smoke --workdir workdirs/curves_smoke
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: "" for the full toy sets, "smoke" for the small ones (fewer points and draws)."""
    config, toy = config_lib.toy_experiment("curves", file="configs/curves/demo.py", arg=arg)
    config.curves = config_lib.curves(
        synthetic_gallery=toy.gestures("synthetic", "train"),
        real_gallery=toy.gestures("real", "train"),
        queries=(toy.gestures("real", "test"),),
        shots=(1, 2, 0) if toy.small else (1, 2, 4, 8, 0),
        num_seeds=2 if toy.small else 5,
    )
    return config
