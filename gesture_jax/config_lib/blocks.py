"""The config blocks experiment files are made of, one function per block.

Configs are locked ml_collections ConfigDicts, so every field a user may override must exist; optional
overrides are typed placeholders (None until set), e.g. ``--config.encoder.spec.num_clips=4``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ml_collections
from ml_collections import config_dict

from gesture_jax.config_lib.protocols import ROCOG_GROUND_GALLERIES, ROCOG_GROUND_QUERIES
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


# The evaluators each mode runs by default (gesture_jax.evaluation.engine.EVALUATORS); an experiment's
# ``config.evals`` lists them, so ``--config.evals="('probes','curves')"`` adds an analysis to a run.
MODE_EVALS = {
    "knn": ("probes",),
    "curves": ("curves",),
    "zeroshot": ("zeroshot", "text_examples"),
    "diagnose": ("domain_gap",),
    "finetune": ("seen_novel", "head"),
}


def evals(mode: str) -> tuple[str, ...]:
    """The evaluators `mode` runs (its `MODE_EVALS` entry)."""
    return MODE_EVALS[mode]


def encoder(
    name: str, *, checkpoint: str = "", dtype: str = "float32", init_seed: int = 0
) -> ml_collections.ConfigDict:
    """Which encoder, from which weights, computing in which dtype, with optional spec overrides."""
    return ml_collections.ConfigDict(
        {
            "name": name,
            # a converted checkpoint directory; "" = the encoder's registered weights, else random init
            "checkpoint": checkpoint,
            "init_seed": init_seed,  # random-init seed, used when checkpoint is ""
            "dtype": dtype,  # compute dtype: "float32", "bfloat16" or "float16" (parameters stay float32)
            # attention kernel: "auto" (cuDNN flash attention on GPU in bf16/fp16, else the fastest exact
            # one), or "einsum", "xla", "cudnn" (gesture_jax.models.attention_kernels)
            "attention": "auto",
            "spec": {k: config_dict.placeholder(t) for k, t in _SPEC_TYPES.items()},
        }
    )


def data(
    *, data_dir: str = "", build_if_missing: bool = False, num_threads: int = 4
) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        {
            "data_dir": data_dir,  # "" = TFDS's default: $TFDS_DATA_DIR or ~/tensorflow_datasets
            "build_if_missing": build_if_missing,  # build absent datasets first (RoCoG-v2: needs manual_dir)
            "manual_dir": "",  # source files for builds, e.g. a RoCoG-v2 checkout with its zips
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


def knn(
    *,
    k: int = 3,
    metric: str = "l2",
    galleries: tuple[str, ...] = ROCOG_GROUND_GALLERIES,
    queries: tuple[str, ...] = ROCOG_GROUND_QUERIES,
) -> ml_collections.ConfigDict:
    """Probes on frozen features (mode knn). `k`/`metric` are the paper's fixed KNN row, always reported;
    the sweeps and the other probes are chosen on validation data (README: "Evaluation protocol")."""
    return ml_collections.ConfigDict(
        {
            "k": k,
            "metric": metric,
            "galleries": galleries,
            "queries": queries,
            "methods": ("knn", "prototype", "linear_probe"),
            "k_sweep": (1, 3, 5, 7, 11, 21),
            "metrics": ("l2", "cosine"),
            "votes": ("uniform", "distance", "temperature"),  # temperature: DINO's, cosine only
            "temperature": 0.07,
            "weight_decays": (1e-1, 1e-2, 1e-3, 1e-4),  # linear probe; strongest first (wins ties)
            # A gallery "<ds>:<split>" is validated on the first of these splits <ds> has (RoCoG-v2: syn
            # val, real val_tsonly); with none, on stratified folds of the gallery.
            "validation_splits": ("val", "val_tsonly"),
            "num_folds": 5,
            # Query metadata fields to break accuracy down by; "auto" = the dataset's (data/groups.py).
            "breakdowns": ("auto",),
        }
    )


def attentive(
    *,
    galleries: tuple[str, ...] = ROCOG_GROUND_GALLERIES,
    queries: tuple[str, ...] = ROCOG_GROUND_QUERIES,
) -> ml_collections.ConfigDict:
    """Probes trained on frozen tokens (evaluator ``attentive``): V-JEPA 2's recipe by default."""
    return ml_collections.ConfigDict(
        {
            "galleries": galleries,
            "queries": queries,
            "methods": ("attentive_probe", "attentive_pooler"),
            "num_seeds": 3,  # seeds 0..n-1, a row each
            # V-JEPA 2's grid (configs/eval/vitl/*.yaml), 20 members trained as one program
            "learning_rates": (5e-3, 3e-3, 1e-3, 3e-4, 1e-4),
            "weight_decays": (0.01, 0.1, 0.4, 0.8),
            "epochs": 20,
            "batch_size": 32,
            "warmup_epochs": 0.0,
            "start_lr_fraction": 1.0,  # warm-up from this fraction of each learning rate
            "final_lr": 0.0,
            "final_weight_decay": config_dict.placeholder(float),  # None: each member's (constant)
            "label_smoothing": 0.0,
            "attentive_probe": {"depth": 4, "num_heads": 16, "mlp_ratio": 4.0},  # V-JEPA 2's
            # VideoGLUE's: 12 heads of 64 channels at ViT-B; 0 = one head per 64 channels at any width
            "attentive_pooler": {"num_heads": 0, "dropout": 0.5},
            "tokens": {
                "layers": (),  # block indices; () = the final tokens
                "pool": (1, 1),  # average over (h, w) patches, e.g. (2, 2); (1, 1) = every token
                "dtype": "float16",  # in the token cache: "float16" or "float32"
                "layer_mode": "tokens",  # several layers: "tokens" (V-JEPA 2), "channels" or "per_layer"
            },
            "validation_splits": ("val", "val_tsonly"),  # as config.knn's; else folds of the gallery
            "num_folds": 5,
            # Also report the best member on the queries (V-JEPA 2's published practice), labelled.
            "best_of_grid_on_queries": False,
            "breakdowns": ("auto",),  # query metadata fields for the first seed's rows, as config.knn's
        }
    )


def curves(
    *,
    synthetic_gallery: str = ROCOG_GROUND_GALLERIES[0],
    real_gallery: str = ROCOG_GROUND_GALLERIES[1],
    queries: tuple[str, ...] = ROCOG_GROUND_QUERIES,
    shots: tuple[int, ...] = (1, 2, 4, 8, 0),
    num_seeds: int = 5,
) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        {
            "synthetic_gallery": synthetic_gallery,
            "real_gallery": real_gallery,
            "queries": queries,
            "shots": shots,  # real gallery videos per class; 0 = all of them
            "num_seeds": num_seeds,  # draws per point (seeds 0..n-1), averaged
            "k": 3,
            "metric": "l2",
        }
    )


def training(**overrides: Any) -> ml_collections.ConfigDict:
    """Supervised training of an encoder with a classification head (gesture_jax/train/supervised.py);
    the fields modes ``finetune`` and ``pretrain`` share."""
    block = ml_collections.ConfigDict(
        {
            "strategy": "full",  # "full", "linear_probe" or "last_blocks"
            "last_blocks": 2,  # with strategy "last_blocks"
            "num_steps": 1000,
            "batch_per_device": 8,
            "accum_steps": 1,  # gradient accumulation (micro-steps per update)
            "learning_rate": 5e-4,
            "min_learning_rate": 1e-6,
            "warmup_steps": 100,
            "weight_decay": 0.05,
            "layer_decay": 0.75,  # layer-wise lr decay; 1.0 = off
            "clip_norm": 1.0,
            "label_smoothing": 0.1,
            "drop_path": 0.1,
            "augment": {
                "crop_scale": (0.25, 1.0),
                "crop_ratio": (0.75, 4 / 3),
                "brightness": 0.4,
                "contrast": 0.4,
                "saturation": 0.4,
                "hue": 0.1,
                # A mirrored video can change what an arm signal means (which arm is raised): off.
                "hflip": False,
            },
            "log_every": 10,
            "checkpoint_every": 100,  # also evaluates the head on val_split
            "keep_checkpoints": 3,  # the latest ones; the best on val is kept besides
        }
    )
    block.update(overrides)
    return block


def finetune(
    *,
    train_split: str = "rocog_v2/syn_ground:train",
    val_split: str = "rocog_v2/syn_ground:val",
    test_split: str = "rocog_v2/real_ground:test",
    real_gallery: str = "rocog_v2/real_ground:train",
    **overrides: Any,
) -> ml_collections.ConfigDict:
    """Fine-tuning on a synthetic split; KNN and head evaluation on real videos before and after."""
    block = ml_collections.ConfigDict(
        {
            "train_split": train_split,
            "val_split": val_split,  # head accuracy here picks the best checkpoint
            "test_split": test_split,  # real test videos: KNN queries and head accuracy
            "synthetic_gallery": "",  # "" = the train split
            "real_gallery": real_gallery,
            **training().to_dict(),
            "heldout_classes": (),  # class indices left out of fine-tuning (the unseen-class protocol)
            "shots": (1, 2, 4, 0),  # real gallery videos per held-out class for KNN; 0 = all
            # Probes beside the paper's KNN, per encoder state and gallery; settings chosen on folds.
            "probes": ("prototype", "linear_probe"),
            "num_folds": 5,  # stratified folds of the gallery on which the probes' settings are chosen
            # WiSE-FT: also evaluate (1 − α)·frozen + α·fine-tuned weights (0 = frozen, 1 = fine-tuned).
            "alphas": (0.0, 0.25, 0.5, 0.75, 1.0),
            "num_seeds": 3,
            "k": 3,  # the paper's KNN before and after fine-tuning
            "metric": "l2",
        }
    )
    block.update(overrides)
    return block


def pretrain(*, train_split: str, val_split: str, **overrides: Any) -> ml_collections.ConfigDict:
    """Supervised pre-training of an encoder on a corpus's classes; the encoder is exported as a converted
    model directory (model.json with provenance + params/) for any mode to load."""
    block = ml_collections.ConfigDict(
        {
            "train_split": train_split,
            "val_split": val_split,  # head accuracy here picks the best checkpoint
            **training().to_dict(),
            "export_dir": "",  # "" = <workdir>/encoder
        }
    )
    block.update(overrides)
    return block


def diagnose(
    *, synthetic: str, real_gallery: str, queries: str, selection: str = "", metric: str = "l2", k: int = 3
) -> ml_collections.ConfigDict:
    """The domain gap between a synthetic gallery, a real gallery and real queries, and the synthetic
    gallery's attribution to its generator parameters (mode diagnose). `selection`: the real split a
    curated synthetic gallery is chosen on (never `queries`; "" skips curation)."""
    return ml_collections.ConfigDict(
        {
            "synthetic": synthetic,
            "real_gallery": real_gallery,
            "queries": queries,
            "selection": selection,
            "metric": metric,  # the paper's KNN and the features the gap numbers see (unit rows for cosine)
            "k": k,
            "max_points": 1000,  # per set, for the gap numbers (deterministic subsample above it)
            "embedding_points": 400,  # per set, for the t-SNE picture
            "num_permutations": 200,  # MMD² permutation test
            # Generator parameters to attribute to: ("auto",) = the dataset's (data/groups.py), () = none.
            "attribute": ("auto",),
            "max_values": 6,  # a numeric parameter with more distinct values is cut into `bins` bins
            "bins": 4,
            "curation_steps": 3,  # at most this many parameter values left out by the curation
            "failures": 6,  # failed real queries on the contact sheet
            "seed": 0,
        }
    )


def zeroshot(*, queries: tuple[str, ...] = ROCOG_GROUND_QUERIES) -> ml_collections.ConfigDict:
    from gesture_jax.text import prompts

    return ml_collections.ConfigDict(
        {
            "queries": queries,
            "prompt_sets": tuple(prompts.names()),  # every registered set, one result row each
            "scale": 100.0,  # the ViCLIP demo's fixed logit scale
            # "" = gesture_jax.text.clip_bpe's lookup: $GESTURE_JAX_CLIP_VOCAB, then the cache
            "vocab_path": "",
            # The user's prompt sets: .json or text files (text/prompts.py's load_file), each a set.
            "prompt_files": (),
            # The prompt lab: each set's single prompts scored too, their spread reported and plotted.
            "single_prompts": True,
            # Text + a few labelled videos per class (evaluation/text_fewshot.py); off with no galleries.
            "fewshot": {
                "galleries": (),  # splits the example videos are drawn from (synthetic or real)
                "validation_splits": (),  # one per gallery: where the mixing weight is chosen (not queries)
                "shots": (1, 2, 4),
                "num_seeds": 3,  # nested draws per shot count
                "weights": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),  # 0 = text only
                "prompt_set": "",  # whose text embeddings; "" = the first of prompt_sets
            },
        }
    )


def spec_overrides(encoder_config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The spec fields a config sets (non-None)."""
    return {k: v for k, v in encoder_config.spec.items() if v is not None}


def apply_spec_overrides(spec: VideoSpec, encoder_config: ml_collections.ConfigDict) -> VideoSpec:
    overrides = spec_overrides(encoder_config)
    return dataclasses.replace(spec, **overrides) if overrides else spec
