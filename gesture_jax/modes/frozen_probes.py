"""Mode ``knn``: probes on frozen-encoder features (evaluator ``probes``; ``config.evals`` adds others).

python -m gesture_jax.main --config configs/demo.py --workdir workdirs/demo
"""

from __future__ import annotations

import ml_collections

from gesture_jax.evaluation import engine, scoring


def run(config: ml_collections.ConfigDict, workdir: str) -> list[scoring.Row]:
    return engine.frozen_run(config, workdir)
