"""Mode ``zeroshot``: frozen video features against text embeddings of each prompt set → report.

The paper's method B: a video-language encoder (ViCLIP) labels each query video with the class whose
prompt embedding is closest, no gallery. One row per prompt set and query split (method ``zeroshot``),
with the prompt set in the ``gallery`` column, so the table reads like the KNN ones.

    python -m gesture_jax.main --config configs/zeroshot/demo.py --workdir workdirs/zeroshot_demo
"""

from __future__ import annotations

import logging

import ml_collections

from gesture_jax import models, prompts, protocol, report, text, zeroshot
from gesture_jax.run_context import RunContext


def run(config: ml_collections.ConfigDict, workdir: str) -> list[protocol.Row]:
    cfg = config.zeroshot
    # Fail before loading weights and extracting on a mistyped prompt set or a missing vocabulary file.
    prompt_sets = [prompts.get(name) for name in cfg.prompt_sets]
    vocab_path = text.resolve_vocab_path(cfg.vocab_path or None)
    ctx = RunContext.create(config, workdir)
    if not hasattr(ctx.model, "encode_text"):
        raise ValueError(
            f"zero-shot needs an encoder with a text tower; {ctx.encoder_name!r} "
            f"({models.get(ctx.encoder_name).family}) has none"
        )
    logging.info("vocabulary %s", vocab_path)
    class_names = ctx.class_names(list(cfg.queries))
    vectors = ctx.vectors(list(cfg.queries))

    rows = []
    for prompt_set in prompt_sets:
        _log_prompts(prompt_set, class_names)
        embeddings = zeroshot.class_embeddings(
            ctx.model,
            prompt_set,
            class_names,
            vocab_path=vocab_path,
            context_length=ctx.model.config.context_length,
        )
        for queries in cfg.queries:
            q = vectors[queries]
            predictions, _ = zeroshot.zeroshot_scores(q.vectors, embeddings, scale=cfg.scale)
            row = protocol.score(
                "zeroshot",
                q.labels,
                predictions,
                q.ids,
                class_names,
                encoder=ctx.encoder_name,
                encoder_state="frozen",
                gallery=prompt_set.name,
                prompt_set=prompt_set.name,
                queries=queries,
                metric="zeroshot",
                scale=cfg.scale,
            )
            protocol.log(row)
            rows.append(row)

    title = f"Zero-shot with frozen {ctx.encoder_name} and text prompts"
    ctx.publish(report.Results(title, rows, protocol.comparisons(rows, report.table_label)))
    return rows


def _log_prompts(prompt_set: prompts.PromptSet, class_names: tuple[str, ...]) -> None:
    """Every text embedded for each class, so a run's log records exactly what the scores compare to."""
    per_class = prompt_set.prompts(class_names)
    logging.info(
        "prompt set %s (%s): %d prompts", prompt_set.name, prompt_set.description, sum(map(len, per_class))
    )
    for name, texts in zip(class_names, per_class):
        logging.info("  %s: %s", name, " | ".join(texts))
