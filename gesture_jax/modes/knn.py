"""Mode ``knn``: frozen-encoder features → KNN on each query split with each gallery split → report.

The training-free half of the study: how well a gallery of synthetic videos (versus real ones) labels
real test videos by nearest neighbours in an encoder's feature space.
"""

from __future__ import annotations

import logging
from typing import Any

import ml_collections

from gesture_jax import features, knn, models, parallel, report


def run(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
    mesh = parallel.make_mesh()
    encoder = config.encoder
    model, spec = models.from_config(encoder)
    logging.info("encoder %s (%s), input %s", encoder.name, encoder.dtype, spec)
    extractor = features.Extractor(model, spec, mesh)

    names = list(dict.fromkeys([*config.knn.galleries, *config.knn.queries]))
    feats, class_names = features.extract_splits(config, workdir, extractor, names)

    rows = []
    for queries in config.knn.queries:
        q = feats[queries]
        for gallery in config.knn.galleries:
            g = feats[gallery]
            predictions = knn.knn_classify(
                g.features,
                g.labels,
                q.features,
                k=config.knn.k,
                metric=config.knn.metric,
                num_classes=len(class_names),
                mesh=mesh,
            )
            row = report.classification_row(
                q.labels,
                predictions,
                class_names,
                ids=q.ids,
                encoder=encoder.name,
                encoder_state="frozen",
                gallery=gallery,
                queries=queries,
                k=config.knn.k,
                metric=config.knn.metric,
                num_gallery=len(g),
            )
            report.log_row(row)
            rows.append(row)

    report.publish(workdir, rows, title=f"KNN with frozen {encoder.name} features")
    return rows
