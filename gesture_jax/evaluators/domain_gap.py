"""The domain gap (``config.diagnose``): why a synthetic gallery falls short on real videos, in an encoder
state's feature space.

From the cached features of a synthetic gallery, a real gallery and real query videos (no re-extraction
once a knn or curves run has cached them):

* the paper's KNN with each gallery and with both together (rows with intervals, paired comparisons);
* the domain-gap numbers of `gesture_jax.analysis.domain` for each pair of splits (MMD² with a permutation
  p-value, Fréchet distance, proxy A-distance, per-class centroid gaps) and where the real queries'
  neighbours in the mixed gallery come from;
* attribution to the generator's parameters (`evaluators.generator_attribution`): per parameter value,
  its share of the real queries' synthetic neighbours and their votes, leave-one-value-out ablations of the
  synthetic gallery, and a gallery curated on ``diagnose.selection`` (never the query split), scored
  as one more row;
* pictures (`gesture_jax.analysis.feature_pictures`): a t-SNE of the features, and the real queries the
  synthetic gallery gets wrong beside their nearest synthetic neighbours.

Outputs in the workdir besides the report: ``domain_gap.json`` (every number, keyed by encoder and split
pair), ``attribution.csv`` (one line per parameter value), ``embedding_<encoder>.png`` and
``failures_<encoder>.png``. Sets larger than ``diagnose.max_points`` are subsampled deterministically
(`domain.subsample`, seed ``diagnose.seed``) for the gap numbers and the picture; KNN and attribution
always use every video.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from gesture_jax.analysis import domain, feature_pictures, knn
from gesture_jax.data import datasets
from gesture_jax.evaluation import diagnosis_tables, gap_numbers, method_rows, scoring
from gesture_jax.evaluation.engine import EncoderState, EvalOutput
from gesture_jax.evaluators import generator_attribution
from gesture_jax.features.extraction import VideoVectors
from gesture_jax.infra import storage

DOMAIN_GAP_JSON = "domain_gap.json"
ATTRIBUTION_CSV = diagnosis_tables.ATTRIBUTION_CSV


def check(config) -> None:
    """Curation must never be chosen on the query split."""
    cfg = config.diagnose
    if cfg.selection and datasets.SplitRef.parse(cfg.selection) == datasets.SplitRef.parse(cfg.queries):
        raise ValueError(
            f"diagnose.selection is the query split {cfg.queries}: curation must be chosen on other "
            "videos (a real train or val_tsonly split), or set selection='' to skip it"
        )


def run(ctx, state: EncoderState) -> EvalOutput:
    cfg = ctx.block("diagnose", evaluator="domain_gap")
    check(ctx.config)
    workdir = ctx.workdir
    names = [cfg.synthetic, cfg.real_gallery, cfg.queries]
    names += [cfg.selection] if cfg.selection and cfg.selection not in names else []
    class_names = ctx.class_names(names)
    vectors = ctx.vectors(names, state.extractor, key_extra=state.key_extra)
    synthetic, real, queries = (vectors[n] for n in names[:3])
    mixed_name = f"{cfg.synthetic}+{cfg.real_gallery}"
    mixed = VideoVectors.concatenate([synthetic, real])

    # The synthetic and mixed galleries' neighbours serve their rows, the provenance, the attribution
    # and the failures: one search each.
    def search(gallery: VideoVectors) -> np.ndarray:
        k = method_rows.usable_k(cfg.k, len(gallery))
        return knn.knn_neighbours(gallery.vectors, queries.vectors, k=k, metric=cfg.metric, mesh=ctx.mesh)

    syn_neighbours, neighbours = search(synthetic), search(mixed)
    rows = []
    key = state.key(ctx.encoder_name, queries=cfg.queries)
    for name, gallery, found in (
        (cfg.synthetic, synthetic, syn_neighbours),
        (cfg.real_gallery, real, None),
        (mixed_name, mixed, neighbours),
    ):
        rows.append(
            method_rows.knn_row(
                gallery,
                queries,
                k=cfg.k,
                metric=cfg.metric,
                class_names=class_names,
                mesh=ctx.mesh,
                key=dataclasses.replace(key, gallery=name),
                neighbours=found,
            )
        )
        scoring.log(rows[-1])

    pairs = {
        f"{a} | {b}": _pair_numbers(vectors[a], vectors[b], class_names, cfg)
        for a, b in (
            (cfg.synthetic, cfg.queries),
            (cfg.real_gallery, cfg.queries),
            (cfg.synthetic, cfg.real_gallery),
        )
    }
    is_synthetic = np.arange(len(mixed)) < len(synthetic)
    provenance = domain.neighbour_provenance(neighbours, is_synthetic, mixed.labels, queries.labels)
    synthetic_row = rows[0]
    fields = generator_attribution.fields(cfg)
    found = None
    if fields:
        found, curated = generator_attribution.attribute(
            ctx, cfg, fields, vectors, syn_neighbours, synthetic_row
        )
        if curated is not None:
            rows.append(curated)
            scoring.log(curated)
    gap = gap_numbers.DomainGap(
        cfg.metric,
        {
            "max_points": cfg.max_points,
            "seed": cfg.seed,
            "rule": "sets larger than max_points: that many rows drawn without replacement, sorted",
        },
        pairs,
        {f"{mixed_name} → {cfg.queries}": gap_numbers.Provenance(**provenance)},
        attribution=found,
        failures=_failures(synthetic_row, syn_neighbours, synthetic, cfg.failures),
    )
    body = {"encoders": {ctx.encoder_name: gap}}

    sections = []
    if ctx.is_main:
        storage.write_json(os.path.join(workdir, DOMAIN_GAP_JSON), body)
        picture = f"embedding_{ctx.encoder_name}.png"
        feature_pictures.embedding_plot(
            os.path.join(workdir, picture),
            [(cfg.synthetic, synthetic), (cfg.real_gallery, real), (cfg.queries, queries)],
            class_names,
            metric=cfg.metric,
            max_points=cfg.embedding_points,
            seed=cfg.seed,
            title=f"t-SNE of frozen {ctx.encoder_name} features ({cfg.metric})",
        )
        sections.append(("domain gap", diagnosis_tables.gap_markdown(gap, mixed_name, cfg, picture)))
        if gap.attribution is not None:
            storage.write_text(
                os.path.join(workdir, ATTRIBUTION_CSV),
                diagnosis_tables.attribution_csv(ctx.encoder_name, gap.attribution),
            )
            sections.append(("attribution", diagnosis_tables.attribution_markdown(gap.attribution, cfg)))
        if gap.failures:
            sheet = f"failures_{ctx.encoder_name}.png"
            feature_pictures.failure_sheet(
                os.path.join(workdir, sheet),
                gap.failures,
                lambda i: ctx.split(cfg.queries).source[i],
                lambda i: ctx.split(cfg.synthetic).source[i],
                title=f"Real queries misclassified by KNN on {cfg.synthetic} (frozen {ctx.encoder_name})",
            )
            sections.append(("failures", diagnosis_tables.failures_markdown(gap.failures, cfg, sheet)))
    # The study's comparison (synthetic against real gallery), then the curated gallery against the whole.
    focus = [(rows[0].id, rows[1].id)] + [(rows[3].id, rows[0].id)] * (len(rows) > 3)
    return EvalOutput(
        rows, sections, title=f"Domain gap of {state.name} {ctx.encoder_name} features", focus=focus
    )


def _failures(
    row: scoring.Row, neighbours: np.ndarray, synthetic: VideoVectors, limit: int
) -> list[gap_numbers.Failure]:
    """Up to `limit` queries the synthetic gallery gets wrong, the most confidently wrong first (most
    votes for the predicted class, then record order), with their nearest synthetic neighbours."""
    wrong = np.flatnonzero(~row.correct)
    votes = (synthetic.labels[neighbours[wrong]] == row.predictions[wrong][:, None]).sum(1)
    order = wrong[np.lexsort((wrong, -votes))][:limit]
    names = row.class_names
    return [
        gap_numbers.Failure(
            int(i),
            str(row.ids[i]),
            names[row.labels[i]],
            names[row.predictions[i]],
            [
                gap_numbers.Neighbour(int(j), str(synthetic.ids[j]), names[synthetic.labels[j]])
                for j in neighbours[i]
            ],
        )
        for i in order
    ]


def _pair_numbers(a: VideoVectors, b: VideoVectors, class_names, cfg) -> gap_numbers.PairGap:
    ia = domain.subsample(len(a), cfg.max_points, cfg.seed)
    ib = domain.subsample(len(b), cfg.max_points, cfg.seed)
    x, y = domain.as_metric(a.vectors[ia], cfg.metric), domain.as_metric(b.vectors[ib], cfg.metric)
    test = domain.mmd2_test(x, y, num_permutations=cfg.num_permutations, seed=cfg.seed)
    folds = 5  # the domain classifier's cross-validation folds: each set needs a video in each fold
    if min(len(x), len(y)) >= folds:
        pad, why = domain.proxy_a_distance(x, y, seed=cfg.seed, num_folds=folds), None
    else:
        pad, why = None, f"needs at least {folds} videos in each set, got {len(x)} and {len(y)}"
    return gap_numbers.PairGap(
        int(len(x)),
        int(len(y)),
        test["mmd2"],
        test["p_value"],
        test["bandwidth"],
        test["num_permutations"],
        domain.frechet_distance(x, y),
        pad,
        why,
        domain.class_gaps(x, a.labels[ia], y, b.labels[ib], class_names),
    )
