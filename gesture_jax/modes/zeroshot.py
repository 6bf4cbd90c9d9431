"""Mode ``zeroshot``: frozen video features against text embeddings of each prompt set → report.

The paper's method B: a video-language encoder (ViCLIP) labels each query video with the class whose
prompt embedding is closest, no gallery. One result row per prompt set and query split, with the prompt
set in the ``gallery`` column (its name), so the table reads like the KNN ones.
"""

from __future__ import annotations

import logging
from typing import Any

import ml_collections

from gesture_jax import features, models, parallel, prompts, report, text, zeroshot


def run(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
    cfg = config.zeroshot
    encoder = config.encoder
    # Fail before loading weights and extracting on a mistyped prompt set or a missing vocabulary file.
    prompt_sets = [prompts.get(name) for name in cfg.prompt_sets]
    vocab_path = text.resolve_vocab_path(cfg.vocab_path or None)
    model, spec = models.from_config(encoder)
    if not hasattr(model, "encode_text"):
        raise ValueError(
            f"zero-shot needs an encoder with a text tower; {encoder.name!r} "
            f"({models.get(encoder.name).family}) has none"
        )
    logging.info("encoder %s (%s), input %s; vocabulary %s", encoder.name, encoder.dtype, spec, vocab_path)

    mesh = parallel.make_mesh()
    extractor = features.Extractor(model, spec, mesh)
    feats, class_names = features.extract_splits(config, workdir, extractor, list(dict.fromkeys(cfg.queries)))

    rows = []
    for prompt_set in prompt_sets:
        _log_prompts(prompt_set, class_names)
        embeddings = zeroshot.class_embeddings(
            model, prompt_set, class_names, vocab_path=vocab_path, context_length=model.config.context_length
        )
        for queries in cfg.queries:
            q = feats[queries]
            predictions, _ = zeroshot.zeroshot_scores(q.features, embeddings, scale=cfg.scale)
            row = report.classification_row(
                q.labels,
                predictions,
                class_names,
                ids=q.ids,
                encoder=encoder.name,
                encoder_state="frozen",
                gallery=prompt_set.name,
                prompt_set=prompt_set.name,
                queries=queries,
                metric="zeroshot",
                scale=cfg.scale,
            )
            report.log_row(row)
            rows.append(row)

    report.publish(workdir, rows, title=f"Zero-shot with frozen {encoder.name} and text prompts")
    return rows


def _log_prompts(prompt_set: prompts.PromptSet, class_names: tuple[str, ...]) -> None:
    """Every text embedded for each class, so a run's log records exactly what the scores compare to."""
    per_class = prompt_set.prompts(class_names)
    logging.info(
        "prompt set %s (%s): %d prompts", prompt_set.name, prompt_set.description, sum(map(len, per_class))
    )
    for name, texts in zip(class_names, per_class):
        logging.info("  %s: %s", name, " | ".join(texts))
