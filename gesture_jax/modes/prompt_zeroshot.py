"""Mode ``zeroshot``: frozen video features against text embeddings of each prompt set → report.

The paper's method B: a video-language encoder (ViCLIP; also SigLIP 2 and VideoPrism LvT) labels each
query video with the class whose prompt embedding scores highest, no gallery, by the family's own
tokenizer and scoring rule (`gesture_jax.zeroshot`). One row per prompt set and query split (method
``zeroshot``), with the prompt set in the ``gallery`` column, so the table reads like the KNN ones.

    python -m gesture_jax.main --config configs/zeroshot/demo.py --workdir workdirs/zeroshot_demo
"""

from __future__ import annotations

import logging

import ml_collections
import numpy as np

from gesture_jax import models, prompts, protocol, report, zeroshot
from gesture_jax.run_context import RunContext


def run(config: ml_collections.ConfigDict, workdir: str) -> list[protocol.Row]:
    cfg = config.zeroshot
    # Fail before loading weights and extracting on a mistyped prompt set or a missing vocabulary file.
    prompt_sets = [prompts.get(name) for name in cfg.prompt_sets]
    family = models.get(config.encoder.name).family
    side = zeroshot.text_side(models.family_module(family))
    checkpoint = models.weights_dir(config.encoder.name, config.encoder.checkpoint)
    vocab_path = zeroshot.resolve_vocab(side["tokenizer"], cfg.vocab_path or None, checkpoint)
    ctx = RunContext.create(config, workdir)
    if not hasattr(ctx.model, "encode_text"):
        raise ValueError(
            f"zero-shot needs an encoder with a text tower; {ctx.encoder_name!r} ({family}) has none"
        )
    logging.info("%s tokenizer, vocabulary %s; %s scores", side["tokenizer"], vocab_path, side["scores"])
    # ViCLIP's context is a model field; SigLIP's processors and VideoPrism's colab pad to 64 tokens.
    context_length = getattr(ctx.model.config, "context_length", 64)
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
            context_length=context_length,
            tokenizer=side["tokenizer"],
        )
        for queries in cfg.queries:
            q = vectors[queries]
            if side["scores"] == "sigmoid":
                scale, bias = float(ctx.model.logit_scale[...][0]), float(ctx.model.logit_bias[...][0])
                predictions, _ = zeroshot.sigmoid_scores(q.vectors, embeddings, scale, bias)
                scoring = dict(scores="sigmoid", scale=float(np.exp(scale)), logit_bias=bias)
            else:
                predictions, _ = zeroshot.zeroshot_scores(q.vectors, embeddings, scale=cfg.scale)
                scoring = dict(scores="softmax", scale=cfg.scale)
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
                **scoring,
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
