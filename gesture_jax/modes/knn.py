"""Mode ``knn``: frozen-encoder features → KNN on each query split with each gallery split → report.

The training-free half of the study: how well a gallery of synthetic videos (versus real ones) labels
real test videos by nearest neighbours in an encoder's feature space.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import ml_collections

from gesture_jax import features, knn, models, parallel, report
from gesture_jax.data import datasets


def run(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
    mesh = parallel.make_mesh()
    encoder = config.encoder
    model, spec = models.from_config(encoder)
    logging.info("encoder %s (%s), input %s", encoder.name, encoder.dtype, spec)
    extractor = features.Extractor(model, spec, mesh)

    names = list(dict.fromkeys([*config.knn.galleries, *config.knn.queries]))
    feats, class_names = {}, None
    for name in names:
        split = datasets.open_split(name, config.data.data_dir, build_if_missing=config.data.build_if_missing)
        if class_names is not None and split.class_names != class_names:
            raise ValueError(f"{name} has classes {split.class_names}, other splits have {class_names}")
        class_names = split.class_names
        meta = {
            "encoder": encoder.name,
            "checkpoint": encoder.checkpoint,
            "init_seed": encoder.init_seed,
            "dtype": encoder.dtype,
            "dataset": split.ref.dataset,
            "version": split.version,
            "split": split.ref.split,
            "num_records": len(split),
            "spec": spec.to_dict(),
        }
        feats[name] = features.extract(
            extractor,
            split,
            cache_dir=config.extract.cache_dir or os.path.join(workdir, "features"),
            meta=meta,
            per_device_batch=config.extract.per_device_batch,
            chunk_batches=config.extract.chunk_batches,
            num_threads=config.data.num_threads,
        )

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
                encoder=encoder.name,
                encoder_state="frozen",
                gallery=gallery,
                queries=queries,
                k=config.knn.k,
                metric=config.knn.metric,
                num_gallery=len(g),
            )
            logging.info(
                "KNN %s: gallery %s (%d) → %s (%d): accuracy %.1f%%, mean class %.1f%%",
                encoder.name,
                gallery,
                len(g),
                queries,
                len(q),
                100 * row["accuracy"],
                100 * row["mean_class_accuracy"],
            )
            rows.append(row)

    if parallel.is_main_process():
        report.write(workdir, rows, title=f"KNN with frozen {encoder.name} features")
        print(report.markdown(rows).split("## All rows")[0].strip())
    return rows
