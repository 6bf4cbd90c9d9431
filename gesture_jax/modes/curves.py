"""Mode ``curves``: few-shot and mixing curves on frozen features (evaluator ``curves``).

python -m gesture_jax.main --config configs/curves/demo.py --workdir workdirs/curves_demo
"""

from __future__ import annotations

import ml_collections

from gesture_jax.evaluation import engine, scoring
from gesture_jax.evaluators.curves import REAL_EQUIVALENT_JSON  # noqa: F401  (what it writes)


def run(config: ml_collections.ConfigDict, workdir: str) -> list[scoring.Row]:
    return engine.frozen_run(config, workdir)
