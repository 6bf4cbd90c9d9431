"""Probes trained on frozen tokens (``config.attentive``): V-JEPA 2's attentive probe and VideoGLUE's
attentive pooler, each gallery against each query split, beside the probes on pooled features.

The encoder state's tokens are extracted once into the token cache (views kept, optionally pooled 2×2,
float16), each probe's learning-rate × weight-decay grid trains as one program per seed, the member is
chosen on the gallery's validation data (never the queries), and every seed gives a row; the spread
across seeds is a report section and a results.json entry.
"""

from __future__ import annotations

import dataclasses

from gesture_jax.analysis import attentive_heads, probe_grid
from gesture_jax.evaluation import breakdowns, cells, method_rows, scoring, token_probe_rows
from gesture_jax.evaluation.engine import EncoderState, EvalOutput
from gesture_jax.features.token_extraction import TokenRecipe

NOTE = (
    "Token probes are trained per seed; each seed's member of the learning-rate × weight-decay grid is "
    "chosen on validation data, never on the queries. Rows of later seeds are shown but not paired."
)


def settings(cfg) -> tuple[TokenRecipe, token_probe_rows.TokenProbeSettings]:
    """The config block as the token recipe and the probes' settings (fails on a bad value)."""
    tokens = cfg.tokens
    recipe = TokenRecipe(layers=tuple(tokens.layers), pool=tuple(tokens.pool), dtype=tokens.dtype)
    grid = probe_grid.GridSettings(
        learning_rates=tuple(cfg.learning_rates),
        weight_decays=tuple(cfg.weight_decays),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        warmup_epochs=cfg.warmup_epochs,
        start_lr_fraction=cfg.start_lr_fraction,
        final_lr=cfg.final_lr,
        final_weight_decay=cfg.final_weight_decay,
        label_smoothing=cfg.label_smoothing,
        layer_mode=tokens.layer_mode,
    )
    for method in cfg.methods:
        if method not in attentive_heads.HEADS:
            raise ValueError(
                f"config.attentive.methods: unknown {method!r}; expected some of {attentive_heads.HEADS}"
            )
    heads = {"attentive_probe": dict(cfg.attentive_probe), "attentive_pooler": dict(cfg.attentive_pooler)}
    probe_settings = token_probe_rows.TokenProbeSettings(
        methods=tuple(cfg.methods),
        seeds=tuple(range(cfg.num_seeds)),
        grid=grid,
        heads=heads,
        num_folds=cfg.num_folds,
        query_oracle=cfg.best_of_grid_on_queries,
    )
    return recipe, probe_settings


def check(config) -> None:
    cfg = config.attentive
    settings(cfg)
    if cfg.num_seeds < 1:
        raise ValueError(f"config.attentive.num_seeds {cfg.num_seeds}; expected at least 1")
    overlap = set(cfg.galleries) & set(cfg.queries)
    if overlap:
        raise ValueError(f"config.attentive: {sorted(overlap)} is both a gallery and a query split")


def run(ctx, state: EncoderState) -> EvalOutput:
    cfg = ctx.block("attentive", evaluator="attentive")
    recipe, probe_settings = settings(cfg)
    validation = {g: ctx.validation_split(g, cfg.validation_splits) for g in cfg.galleries}
    chosen_on_queries = sorted(v for v in validation.values() if v in cfg.queries)
    if chosen_on_queries:
        raise ValueError(
            f"config.attentive: {chosen_on_queries} would be both where the probes are chosen and a query "
            "split; take it out of config.attentive.queries or config.attentive.validation_splits"
        )
    names = [*cfg.galleries, *cfg.queries, *(v for v in validation.values() if v)]
    class_names = ctx.class_names(names)
    extractor = ctx.token_extractor(recipe, state.model)
    _check_heads(extractor, probe_settings, len(class_names))  # before hours of extraction
    stores = ctx.tokens(names, extractor, recipe, key_extra=state.key_extra)
    rows, spreads = [], []
    for gallery in cfg.galleries:
        val = token_probe_rows.TokenValidation(validation[gallery], stores.get(validation[gallery]))
        got, spread = token_probe_rows.token_probe_rows(
            stores[gallery],
            {q: stores[q] for q in cfg.queries},
            val,
            probe_settings,
            class_names=class_names,
            key=state.key(ctx.encoder_name, gallery=gallery),
        )
        for row in got:
            if row.roles == ("selected",):  # the first seed's row, broken down by the queries' metadata
                by = ctx.breakdown_groups(row.queries, cfg.breakdowns)
                row = dataclasses.replace(row, breakdowns=breakdowns.breakdowns(row, by))
                scoring.log(row)
            rows.append(row)
        spreads += spread
    rows.sort(key=lambda r: list(cfg.queries).index(r.queries))
    changes = _gap_changes(ctx, state, cfg, rows, class_names)
    sections = [("Token probes across seeds", _spread_table(spreads, recipe))]
    sections += [("token probes and the gap", _gap_table(changes))] if changes else []
    return EvalOutput(
        rows,
        sections=sections,
        extra={
            "seed_spread": [dataclasses.asdict(s) for s in spreads],
            "gap_change": [dataclasses.asdict(c) for c in changes],
            "tokens": recipe.describe(),
        },
        focus=_focus(rows, list(cfg.galleries)),
        title=f"Token probes on {state.name} {ctx.encoder_name}",
        note=NOTE,
    )


def _check_heads(extractor, probe_settings, num_classes: int) -> None:
    """Each probe's head count against the tokens' width, traced from the encoder (nothing computed)."""
    dim = probe_grid.head_dim(extractor.output_shape(), probe_settings.grid.layer_mode)
    for method in probe_settings.methods:
        attentive_heads.HeadConfig(method, dim, num_classes, **probe_settings.heads.get(method, {}))


def _gap_changes(ctx, state, cfg, rows, class_names) -> list[token_probe_rows.GapChange]:
    """Per query split and token probe (first seed): its synthetic − real gap against the paper's KNN's,
    the first configured gallery taken as synthetic and the second as real. KNN is computed here on the
    same cached features (k and metric of config.knn when the config has it, else 3 and l2)."""
    if len(cfg.galleries) < 2:
        return []
    synthetic, real = cfg.galleries[:2]
    knn_cfg = ctx.config.get("knn")
    k, metric = (knn_cfg.k, knn_cfg.metric) if knn_cfg else (3, "l2")
    vectors = ctx.vectors([synthetic, real, *cfg.queries], state.extractor, key_extra=state.key_extra)
    changes = []
    for queries in cfg.queries:
        knn = {
            g: method_rows.knn_row(vectors[g], vectors[queries], k=k, metric=metric, class_names=class_names,
                                   mesh=ctx.mesh, key=state.key(ctx.encoder_name, gallery=g, queries=queries))
            for g in (synthetic, real)
        }  # fmt: skip
        first = {(r.method, r.gallery): r for r in rows if r.queries == queries and r.roles == ("selected",)}
        for method in dict.fromkeys(m for m, _ in first):
            if (method, synthetic) in first and (method, real) in first:
                changes.append(
                    token_probe_rows.gap_change(
                        first[method, synthetic], first[method, real], knn[synthetic], knn[real]
                    )
                )
    return changes


def _gap_table(changes) -> str:
    lines = [
        "## Do token probes narrow the synthetic–real gap?",
        "",
        "Gap = accuracy with the synthetic gallery − with the real one, on the same query videos; change = "
        "the probe's gap − the paper's KNN's, with its paired 95% bootstrap interval: positive where the "
        "synthetic gallery gains more from the probe than the real one (a synthetic-below-real gap narrows).",
        "",
        "| queries | probe (first seed) | KNN's gap | probe's gap | change [95% interval] |",
        "|---|---|---:|---:|---:|",
    ]
    for c in changes:
        lo, hi = c.ci95
        lines.append(
            f"| `{c.queries}` | {c.method} | {100 * c.knn_gap:+.1f} | {100 * c.probe_gap:+.1f} | "
            f"{100 * c.change:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] |"
        )
    return "\n".join(lines)


def _focus(rows, galleries: list[str]) -> list[tuple[str, str]]:
    """The first seed's attentive probe with the first gallery against the second (synthetic against
    real), per query split and method."""
    out = []
    first = [r for r in rows if r.roles == ("selected",)]
    for queries in dict.fromkeys(r.queries for r in first):
        for method in dict.fromkeys(r.method for r in first):
            by = {r.gallery: r for r in first if r.queries == queries and r.method == method}
            if len(galleries) >= 2 and galleries[0] in by and galleries[1] in by:
                out.append((by[galleries[0]].id, by[galleries[1]].id))
    return out


def _spread_table(spreads, recipe: TokenRecipe) -> str:
    lines = [
        "## Token probes across seeds",
        "",
        f"Tokens: {recipe.describe()}. Accuracy (%) of each seed's selected probe; mean ± sample standard "
        "deviation across seeds.",
        "",
        "| queries | gallery | method | seeds | accuracy per seed | mean ± sd | range |",
        "|---|---|---|---:|---|---:|---:|",
    ]
    for s in spreads:
        per_seed = ", ".join(cells.percent(a) for a in s.accuracies)
        lines.append(
            f"| `{s.queries}` | `{s.gallery}` | {s.method} | {len(s.seeds)} | {per_seed} | "
            f"{100 * s.mean:.1f} ± {100 * s.std:.1f} | {100 * s.min:.1f}–{100 * s.max:.1f} |"
        )
    return "\n".join(lines)
