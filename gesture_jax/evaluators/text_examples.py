"""Text + examples (``config.zeroshot.fewshot``): zero-shot text scores mixed with the prototypes of a few
labelled videos per class, beside text only and examples only.

For each gallery of ``fewshot.galleries`` (synthetic or real videos), shot count and query split:
`evaluation.text_fewshot` draws the examples per seed (nested across shot counts), chooses the mixing
weight on that gallery's ``validation_splits`` entry (never the queries) and scores three rows. The text
side (tokenizer, prompt embeddings, scoring rule) is the zero-shot evaluator's, for the prompt set
``fewshot.prompt_set`` (default: the first configured). Without galleries it adds nothing.
"""

from __future__ import annotations

from gesture_jax.evaluation import scoring, text_fewshot
from gesture_jax.evaluation.engine import EncoderState, EvalOutput
from gesture_jax.evaluators import zeroshot_prompts


def run(ctx, state: EncoderState) -> EvalOutput:
    cfg = ctx.block("zeroshot", evaluator="text_examples")
    fewshot = cfg.get("fewshot")
    if not fewshot or not fewshot.galleries:
        return EvalOutput()
    splits = list(cfg.queries) + list(fewshot.galleries) + list(fewshot.validation_splits)
    side = zeroshot_prompts.text_side(ctx, state, splits)
    vectors = ctx.vectors(splits, state.extractor, key_extra=state.key_extra)
    rows = _rows(
        ctx,
        state,
        fewshot,
        vectors=vectors,
        embeddings=side.embeddings,
        class_names=side.class_names,
        score=side.score,
    )
    return EvalOutput(rows)


def _rows(ctx, state, fewshot, *, vectors, embeddings, class_names, score) -> list[scoring.Row]:
    """Text + examples against text only and examples only, per gallery, shots and query split."""
    name = fewshot.prompt_set or next(iter(embeddings))
    text = embeddings[name]
    rows = []
    for gallery, validation in zip(fewshot.galleries, fewshot.validation_splits):
        for queries in ctx.config.zeroshot.queries:
            q = vectors[queries]
            text_only, _ = score(q.vectors, text)
            for shots in fewshot.shots:
                key = state.key(ctx.encoder_name, queries=queries, gallery=gallery, prompt_set=name)
                rows += text_fewshot.rows(
                    vectors[gallery], q, vectors[validation], text, shots=shots, num_seeds=fewshot.num_seeds,
                    weights=tuple(fewshot.weights), class_names=class_names, key=key, text_only=text_only,
                    validation_name=validation,
                )  # fmt: skip
                for row in rows[-3:]:
                    scoring.log(row)
    return rows
