"""Modes: each module here is one kind of run, ``run(config, workdir) -> list[scoring.Row]``.

``config.mode`` names a mode of `MODES`, which says which module runs it. Module names differ from the
library modules they use (``knn`` is the mode; `analysis.knn` the search), so neither hides the other.
"""

MODES = {
    "knn": "frozen_probes",  # KNN, prototype and linear probes on frozen features
    "zeroshot": "prompt_zeroshot",  # frozen video features against text prompts
    "curves": "curves",  # few-shot and mixed galleries
    "finetune": "finetune",  # fine-tune on synthetic videos, evaluate before and after
    "diagnose": "diagnose",  # the synthetic ↔ real gap in feature space: numbers and a picture
    "pretrain": "pretrain",  # supervised pre-training on a corpus, exported as a converted model
    "table": "table",  # several experiment files as one report
}


def get(name: str):
    """The module that runs mode `name` (a ValueError naming the known modes otherwise)."""
    from gesture_jax.evaluation import engine

    return engine.import_by_name(name, MODES, kind="mode", package="gesture_jax.modes")
