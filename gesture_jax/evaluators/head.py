"""The classifier head of a trained encoder state, on the validation and the test split (``config.finetune``).

Only a state that training returned (``state.trained``) has a head; for the others this evaluator adds
nothing. With held-out classes the head knows the seen classes only, so its rows are seen-class rows.
"""

from __future__ import annotations

import dataclasses

from gesture_jax.evaluation import base_novel, method_rows, scoring
from gesture_jax.evaluation.engine import EncoderState, EvalOutput
from gesture_jax.evaluators import seen_novel
from gesture_jax.train import supervised


def run(ctx, state: EncoderState) -> EvalOutput:
    if state.trained is None:
        return EvalOutput()
    ft = ctx.block("finetune", evaluator="head")
    class_names, heldout = seen_novel.classes(ctx)
    trained = state.trained
    head = ctx.extractor(trained.model, output=supervised.logits, output_name=supervised.HEAD_OUTPUT)
    rows = []
    for split in (ft.val_split, ft.test_split):
        key = {"finetuned": trained.checksum, "output": "head logits"}
        logits = ctx.vectors([split], head, key_extra=key)[split]
        queries = base_novel.subset_queries(split, "seen") if heldout else split
        key = state.key(ctx.encoder_name, gallery="classifier head", queries=queries,
                        class_subset="seen" if heldout else "", fine_tuned_on=state.trained_on)  # fmt: skip
        row = method_rows.head_row(logits, trained.kept, class_names, key=key)
        rows.append(dataclasses.replace(row, query_split=split) if heldout else row)
        scoring.log(rows[-1])
    return EvalOutput(rows)
