"""Building blocks shared by the experiment files in ``configs/``.

Configs are locked ml_collections ConfigDicts, so every field a user may override must exist; optional
overrides are typed placeholders (None until set), e.g. ``--config.encoder.spec.num_clips=4``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ml_collections
from ml_collections import config_dict

from gesture_jax.data.spec import VideoSpec

_SPEC_TYPES = {
    "num_frames": int,
    "sampler": str,
    "num_clips": int,
    "resize": str,
    "resize_size": int,
    "crop": str,
    "crop_size": int,
}


def encoder(
    name: str, *, checkpoint: str = "", dtype: str = "float32", init_seed: int = 0
) -> ml_collections.ConfigDict:
    """Which encoder, from which weights, computing in which dtype, with optional spec overrides."""
    return ml_collections.ConfigDict(
        {
            "name": name,
            "checkpoint": checkpoint,  # a converted checkpoint directory; "" = random init (toy encoders)
            "init_seed": init_seed,  # random-init seed, used when checkpoint is ""
            "dtype": dtype,  # compute dtype: "float32" or "bfloat16" (parameters stay float32)
            "spec": {k: config_dict.placeholder(t) for k, t in _SPEC_TYPES.items()},
        }
    )


def data(
    *, data_dir: str = "", build_if_missing: bool = False, num_threads: int = 4
) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        {
            "data_dir": data_dir,  # "" = TFDS's default: $TFDS_DATA_DIR or ~/tensorflow_datasets
            "build_if_missing": build_if_missing,  # build datasets that need no downloads when absent
            "num_threads": num_threads,  # decoding threads per process
        }
    )


def extract(
    *, per_device_batch: int = 8, chunk_batches: int = 50, cache_dir: str = ""
) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        {
            # Fixed per device (not global) so features are bit-identical on any number of devices.
            "per_device_batch": per_device_batch,
            "chunk_batches": chunk_batches,  # batches per resumable part file
            "cache_dir": cache_dir,  # "" = <workdir>/features; share one across experiments to reuse features
        }
    )


# The paper's ground-view protocol on RoCoG-v2 (docs: paper.md §2): real test videos labelled by KNN
# (k=3, L2) from the synthetic train split and, for comparison, from the real train split.
ROCOG_GROUND_GALLERIES = ("rocog_v2/syn_ground:train", "rocog_v2/real_ground:train")
ROCOG_GROUND_QUERIES = ("rocog_v2/real_ground:test",)


def knn(
    *,
    k: int = 3,
    metric: str = "l2",
    galleries: tuple[str, ...] = ROCOG_GROUND_GALLERIES,
    queries: tuple[str, ...] = ROCOG_GROUND_QUERIES,
) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict({"k": k, "metric": metric, "galleries": galleries, "queries": queries})


def paper_knn_row(encoder_name: str, checkpoint: str) -> ml_collections.ConfigDict:
    """One row of the paper's table: a converted checkpoint, the synthetic vs real ground galleries."""
    config = ml_collections.ConfigDict()
    config.mode = "knn"
    config.data = data()
    config.encoder = encoder(encoder_name, checkpoint=checkpoint)
    config.extract = extract(per_device_batch=4)
    config.knn = knn()
    return config


def zeroshot(*, queries: tuple[str, ...] = ROCOG_GROUND_QUERIES) -> ml_collections.ConfigDict:
    from gesture_jax import prompts

    return ml_collections.ConfigDict(
        {
            "queries": queries,
            "prompt_sets": tuple(prompts.names()),  # every registered set, one result row each
            "scale": 100.0,  # the ViCLIP demo's fixed logit scale
            "vocab_path": "",  # "" = gesture_jax.text's lookup: $GESTURE_JAX_CLIP_VOCAB, then the cache
        }
    )


def paper_zeroshot(encoder_name: str, checkpoint: str) -> ml_collections.ConfigDict:
    """The paper's method B: a converted ViCLIP checkpoint, every prompt set, real ground test videos."""
    config = ml_collections.ConfigDict()
    config.mode = "zeroshot"
    config.data = data()
    config.encoder = encoder(encoder_name, checkpoint=checkpoint)
    config.extract = extract(per_device_batch=8)
    config.zeroshot = zeroshot()
    return config


def spec_overrides(encoder_config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The spec fields a config sets (non-None)."""
    return {k: v for k, v in encoder_config.spec.items() if v is not None}


def apply_spec_overrides(spec: VideoSpec, encoder_config: ml_collections.ConfigDict) -> VideoSpec:
    overrides = spec_overrides(encoder_config)
    return dataclasses.replace(spec, **overrides) if overrides else spec
