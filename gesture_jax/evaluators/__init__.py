"""Evaluators: each analysis of the study as one unit, ``run(ctx, state) -> engine.EvalOutput``.

The contract (`gesture_jax.evaluation.engine`): an evaluator reads its own config block from
``ctx.config`` (through `ctx.block`, which names the evaluator when the block is missing), computes the
state's features through ``ctx.vectors(names, state.extractor, key_extra=state.key_extra)``, makes its
rows keyed by ``state.key(...)`` and the row makers of `gesture_jax.evaluation`, and returns them with
its report sections, top-level results.json entries and the files it wrote. It never publishes: the
engine collects every evaluator's output for every encoder state and writes one report. Adding an
analysis is one module here and one line in `engine.EVALUATORS`.
"""
