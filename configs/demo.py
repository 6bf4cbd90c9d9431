r"""Toy demo: real-looking test videos classified with a synthetic gallery versus a real gallery, by a frozen
pre-trained encoder.

The study (arXiv 2410.02152) in miniature, offline: `toy-vit-pretrained`, the toy ViT pre-trained on the
toy world's everyday motions (configs/toy_pretrain.py; none of them a gesture) and shipped in the
repository, embeds every toy gesture video frozen; KNN (k=3, L2, the paper's protocol), a KNN sweep,
class prototypes and a linear probe (chosen on validation data) label the real-look test split from the
synthetic train split and from the real train split. The toy gesture sets are built on first use.

  python -m gesture_jax.main --config configs/demo.py --workdir workdirs/demo
  python -m gesture_jax.main --config configs/demo.py:smoke --workdir workdirs/demo_smoke  # seconds
  python -m gesture_jax.main --config configs/demo.py --workdir workdirs/demo_k5 --config.knn.k=5
  python -m gesture_jax.main --config configs/demo.py --workdir workdirs/demo_random --config.encoder.name=toy-vit
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: "" for the full demo, "smoke" for the small toy sets (tests and quick checks)."""
    config, toy = config_lib.toy_experiment("knn", file="configs/demo.py", arg=arg)
    config.knn = config_lib.knn(
        galleries=(toy.gestures("synthetic", "train"), toy.gestures("real", "train")),
        queries=(toy.gestures("real", "test"),),
    )
    if arg == "smoke":  # fewer probe settings, so fewer compilations: the same paths in seconds
        config.knn.k_sweep, config.knn.weight_decays = (1, 3, 5), (1e-1, 1e-3)
    return config
