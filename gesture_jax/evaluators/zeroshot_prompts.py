"""Zero-shot (``config.zeroshot``): an encoder state's video features against text embeddings of prompts.

The paper's method B: a video-language encoder (ViCLIP; also SigLIP 2 and VideoPrism LvT) labels each
query video with the class whose prompt embedding scores highest, no gallery, by the family's own
tokenizer and scoring rule (`gesture_jax.analysis.zeroshot`). One row per prompt set (registered ones and the
user's files, ``zeroshot.prompt_files``) and query split (method ``zeroshot``), with the prompt set in
the ``gallery`` column, so the table reads like the KNN ones.

The prompt lab (`evaluation.prompt_lab`, ``zeroshot.single_prompts``): every single prompt of each set
scored too, the spread across them per set and class (results.json ``prompt_spread``, a box plot in
prompt_spread.png). Text + examples is its own evaluator (`evaluators.text_examples`), on the text side
this module makes (`text_side`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from gesture_jax import models
from gesture_jax.analysis import zeroshot
from gesture_jax.evaluation import prompt_lab, scoring
from gesture_jax.evaluation.engine import EncoderState, EvalOutput
from gesture_jax.text import prompts


def check(config) -> None:
    """Fails before the weights load and anything is extracted: a mistyped prompt set, a bad prompt file,
    a text + examples block that would choose on the queries, a missing vocabulary file."""
    _prepare(config)


def _prepare(config):
    """(prompt sets, (path, set) of the user's files, the family's text side, the vocabulary's path)."""
    cfg = config.zeroshot
    prompt_sets = [prompts.get(name) for name in cfg.prompt_sets]
    files = [(path, prompts.load_file(path)) for path in cfg.get("prompt_files", ())]
    prompt_sets += [p for _, p in files]
    names = [p.name for p in prompt_sets]
    if len(set(names)) != len(names):
        raise ValueError(f"two prompt sets share a name: {names} (a prompt file is named after its file)")
    _check_fewshot(cfg.get("fewshot"), cfg.queries, names)
    family = models.get(config.encoder.name).family
    tower = models.text_tower(family)
    checkpoint = models.weights_dir(config.encoder.name, config.encoder.checkpoint)
    vocab_path = zeroshot.resolve_vocab(tower, cfg.vocab_path or None, checkpoint)
    return prompt_sets, files, tower, vocab_path


@dataclasses.dataclass(frozen=True)
class TextSide:
    """What scoring videos against prompts needs, made once per evaluator run: the text tower's model and
    its `TextTower`, the class names, the prompt sets' class embeddings and the scoring rule."""

    model: Any
    tower: Any  # models.family.TextTower
    prompt_sets: list[prompts.PromptSet]  # the registered sets named, then the user's files
    class_names: tuple[str, ...]
    embeddings: dict[str, np.ndarray]  # prompt set name -> [C, E]
    features: dict[str, np.ndarray]  # text -> its text-tower output (single prompts are embedded from it)
    score: Callable  # (video features, [C, E]) -> (predictions, the row's scoring settings)


def text_side(ctx, state: EncoderState, splits: list[str], *, log: bool = False) -> TextSide:
    """The configured prompt sets embedded by the state's text tower (texts before videos: a set missing
    a class's texts fails here, before any extraction); `splits` share the class names. Made once per
    encoder state: zero-shot and text + examples share it."""
    return ctx.per_state(("text side", tuple(splits)), lambda: _text_side(ctx, state, splits, log=log))


def _text_side(ctx, state: EncoderState, splits: list[str], *, log: bool) -> TextSide:
    config = ctx.config
    cfg = ctx.config.zeroshot
    prompt_sets, files, tower, vocab_path = _prepare(config)
    model = state.model or ctx.model
    if not hasattr(model, "encode_text"):
        family = models.get(config.encoder.name).family
        raise ValueError(
            f"zero-shot needs an encoder with a text tower; {ctx.encoder_name!r} ({family}) has none"
        )
    if log:
        logging.info("%s tokenizer, vocabulary %s; %s scores", tower.tokenizer, vocab_path, tower.scores)
    class_names = ctx.class_names(splits)
    for path, p in files:
        prompts.check_known(p, class_names, f"prompt file {path}")
    about = {"encoder": ctx.encoder_name, "weights": ctx.weights_provenance(), "dtype": config.encoder.dtype}
    features, embeddings = {}, {}
    for p in prompt_sets:  # cached per set: another prompt file embeds only its own texts
        texts = list(dict.fromkeys(t for per_class in p.prompts(class_names) for t in per_class))
        flat = prompt_lab.text_features(
            model, texts, tower=tower, vocab_path=vocab_path, cache_dir=ctx.cache_dir(), about=about,
        )  # fmt: skip
        features.update(zip(texts, flat))
    for p in prompt_sets:
        if log:
            _log_prompts(p, class_names)
        embeddings[p.name] = prompt_lab.embed(p.prompts(class_names), features)
    score = _scorer(model, tower, cfg.scale)
    return TextSide(model, tower, prompt_sets, class_names, embeddings, features, score)


def run(ctx, state: EncoderState) -> EvalOutput:
    cfg = ctx.block("zeroshot", evaluator="zeroshot")
    fewshot = cfg.get("fewshot")
    # The class names of every split the run reads, text + examples' included, are checked together.
    splits = list(cfg.queries) + (
        list(fewshot.galleries) + list(fewshot.validation_splits) if fewshot else []
    )
    side = text_side(ctx, state, splits, log=True)
    vectors = ctx.vectors(list(cfg.queries), state.extractor, key_extra=state.key_extra)
    class_names, score = side.class_names, side.score

    rows = []
    for prompt_set in side.prompt_sets:
        singles = prompt_set.single_prompts(class_names) if cfg.get("single_prompts", True) else []
        for queries in cfg.queries:
            q = vectors[queries]
            key = state.key(
                ctx.encoder_name, gallery=prompt_set.name, queries=queries, prompt_set=prompt_set.name
            )
            key = dataclasses.replace(key, method="zeroshot", metric="zeroshot")
            predictions, how = score(q.vectors, side.embeddings[prompt_set.name])
            rows.append(scoring.score(key, q.labels, predictions, q.ids, class_names, **how))
            scoring.log(rows[-1])
            if len(singles) < 2:
                continue
            for label, single in singles:
                single_embedding = prompt_lab.embed([[t] for t in single], side.features)
                predictions, how = score(q.vectors, single_embedding)
                single_key = dataclasses.replace(key, gallery=f"{prompt_set.name} [{label}]", prompt=label)
                row = scoring.score(
                    single_key, q.labels, predictions, q.ids, class_names, texts=single, **how
                )
                rows.append(dataclasses.replace(row, roles=("sweep",)))

    spread = prompt_lab.spread(rows) if cfg.get("single_prompts", True) else []
    plot = prompt_lab.PLOT_FILE if ctx.is_main and spread else None
    if plot:
        prompt_lab.plot_spread(os.path.join(ctx.workdir, plot), spread)
    return EvalOutput(
        rows,
        sections=[("prompt lab", prompt_lab.section(spread, plot))] if spread else [],
        extra={"prompt_spread": spread} if spread else {},
        artifacts=[plot] if plot else [],
        title=f"Zero-shot with {state.name} {ctx.encoder_name} and text prompts",
    )


def _scorer(model, tower, scale):
    """(predictions, the row's scoring settings) from video features and [C, E] class embeddings."""
    if tower.scores == "sigmoid":
        logit_scale, bias = tower.calibration(model)

        def score(v, emb):
            predictions, _ = zeroshot.sigmoid_scores(v, emb, logit_scale, bias)
            return predictions, dict(scores="sigmoid", scale=float(np.exp(logit_scale)), logit_bias=bias)
    else:

        def score(v, emb):
            predictions, _ = zeroshot.zeroshot_scores(v, emb, scale=scale)
            return predictions, dict(scores="softmax", scale=scale)

    return score


def _check_fewshot(fewshot, queries, names) -> None:
    if not fewshot or not fewshot.galleries:
        return
    if len(fewshot.validation_splits) != len(fewshot.galleries):
        raise ValueError(
            "zeroshot.fewshot.validation_splits needs one split per gallery (where the mixing weight is "
            f"chosen), got {list(fewshot.validation_splits)} for {list(fewshot.galleries)}"
        )
    bad = [v for v in fewshot.validation_splits if v in queries]
    if bad:
        raise ValueError(f"zeroshot.fewshot.validation_splits {bad} are query splits: a weight chosen there "
                         "would be chosen on the test videos")  # fmt: skip
    if fewshot.prompt_set and fewshot.prompt_set not in names:
        raise ValueError(f"zeroshot.fewshot.prompt_set {fewshot.prompt_set!r} is not among {names}")


def _log_prompts(prompt_set: prompts.PromptSet, class_names: tuple[str, ...]) -> None:
    """Every text embedded for each class, so a run's log records exactly what the scores compare to."""
    per_class = prompt_set.prompts(class_names)
    logging.info(
        "prompt set %s (%s): %d prompts", prompt_set.name, prompt_set.description, sum(map(len, per_class))
    )
    for name, texts in zip(class_names, per_class):
        logging.info("  %s: %s", name, " | ".join(texts))
