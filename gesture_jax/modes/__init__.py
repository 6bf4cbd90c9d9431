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
    import difflib
    import importlib

    if name not in MODES:
        close = difflib.get_close_matches(name, list(MODES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown mode {name!r}{hint}; modes: {', '.join(MODES)}")
    return importlib.import_module(f"gesture_jax.modes.{MODES[name]}")
