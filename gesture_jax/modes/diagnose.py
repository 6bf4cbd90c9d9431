"""Mode ``diagnose``: the synthetic ↔ real gap in a frozen encoder's feature space (evaluator
``domain_gap``: KNN with the synthetic, real and mixed galleries, gap numbers, attribution and curation,
pictures).

    python -m gesture_jax.main --config configs/diagnose/demo.py --workdir workdirs/diagnose_demo
"""

from __future__ import annotations

import ml_collections

from gesture_jax.evaluation import engine, scoring
from gesture_jax.evaluators.domain_gap import ATTRIBUTION_CSV, DOMAIN_GAP_JSON  # noqa: F401  (what it writes)


def run(config: ml_collections.ConfigDict, workdir: str) -> list[scoring.Row]:
    return engine.frozen_run(config, workdir)
