r"""Toy study: does training a probe on frozen tokens beat training-free KNN on real test videos, and does
it narrow the gap between a synthetic and a real gallery?

On the toy world, with the shipped pre-trained toy encoder frozen: the paper's KNN, the KNN sweep,
prototypes and the linear probe on pooled features (evaluator ``probes``), and V-JEPA 2's attentive
probe and VideoGLUE's attentive pooler on its tokens (evaluator ``attentive``), each from the synthetic
and from the real gallery, on the real-look test videos. Token probes: V-JEPA 2's 20-member grid of
learning rates × weight decays, trained as one program per seed (3 seeds), chosen on the synthetic
gallery's val split or on folds of the real gallery, never on the queries; the best member on the
queries (V-JEPA 2's reported number) is added as its own, labelled row.

Sized for a 2-core CPU: the toy encoder's 4×8×8 tokens are averaged over 4×4 patches (16 tokens: four
time steps × the frame's quadrants; the grid trains 5× faster than on 2×2's 64 tokens,
bench/probe_grid.py) and the probes use 4 heads of 16 channels (the toy encoder's own; V-JEPA 2's 16
heads are for 1,024 channels). The rest is V-JEPA 2's recipe: depth 4, 20 epochs, constant weight decay,
cosine learning rate to 0.

  python -m gesture_jax.main --config configs/probes/attentive_demo.py --workdir workdirs/attentive
  python -m gesture_jax.main --config configs/probes/attentive_demo.py:smoke --workdir workdirs/attentive_smoke
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: "" for the study on the full toy sets, "smoke" for the small ones (about a minute)."""
    config, toy = config_lib.toy_experiment("knn", file="configs/probes/attentive_demo.py", arg=arg)
    config.evals = ("probes", "attentive")
    galleries = (toy.gestures("synthetic", "train"), toy.gestures("real", "train"))
    queries = (toy.gestures("real", "test"),)
    config.knn = config_lib.knn(galleries=galleries, queries=queries)
    config.attentive = config_lib.attentive(galleries=galleries, queries=queries)
    att = config.attentive
    att.tokens.pool = (4, 4)
    att.attentive_probe.num_heads = 4
    att.attentive_pooler.num_heads = 4
    att.best_of_grid_on_queries = True
    if arg == "smoke":  # the same paths on the small sets, in about a minute
        config.knn.k_sweep, config.knn.weight_decays = (1, 3), (1e-1, 1e-3)
        config.knn.methods = ("knn", "linear_probe")
        att.num_seeds, att.epochs, att.num_folds = 2, 5, 2
        att.learning_rates, att.weight_decays = (5e-3, 1e-3), (0.01, 0.4)
    return config
