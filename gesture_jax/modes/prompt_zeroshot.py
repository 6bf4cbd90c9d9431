"""Mode ``zeroshot``: frozen video features against text prompts (evaluator ``zeroshot``).

python -m gesture_jax.main --config configs/zeroshot/demo.py --workdir workdirs/zeroshot_demo
"""

from __future__ import annotations

import ml_collections

from gesture_jax.evaluation import engine, scoring


def run(config: ml_collections.ConfigDict, workdir: str) -> list[scoring.Row]:
    return engine.frozen_run(config, workdir)
