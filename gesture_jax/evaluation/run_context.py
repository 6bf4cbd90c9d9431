"""The run context: what every mode needs, built once per run from (config, workdir).

This is the one place that reads config blocks and turns them into plain library arguments: the mesh,
the encoder and its input spec (``config.encoder``), splits (``config.data``), cached vectors
(``config.extract``), per-video metadata for breakdowns, and the process's role. Library modules
(`features`, `models`, `data.datasets`, `protocol`, `report`) take plain arguments and never see a
ConfigDict.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from typing import Any, Callable, Sequence

import jax
import ml_collections
import numpy as np
from flax import nnx

from gesture_jax import config_lib, models
from gesture_jax.data import datasets, groups
from gesture_jax.data.spec import VideoSpec
from gesture_jax.evaluation import method_rows, probe_selection, report
from gesture_jax.features import extraction as features
from gesture_jax.features import token_extraction, token_store
from gesture_jax.infra import parallel
from gesture_jax.models import token_layout
from gesture_jax.train import supervised


def open_encoder(
    block: ml_collections.ConfigDict, model_overrides: dict[str, Any] | None = None
) -> tuple[nnx.Module, VideoSpec]:
    """The encoder a config's ``encoder`` block describes (`config_lib.encoder`), with its input spec
    after the block's spec overrides."""
    model, spec = models.open_encoder(
        block.name,
        block.checkpoint,
        init_seed=block.init_seed,
        dtype=block.dtype,
        attention_impl=block.get("attention", "auto"),
        num_frames=block.spec.num_frames,
        model_overrides=model_overrides,
    )
    return model, config_lib.apply_spec_overrides(spec, block)


@dataclasses.dataclass
class RunContext:
    config: ml_collections.ConfigDict
    workdir: str
    mesh: jax.sharding.Mesh
    model: nnx.Module  # the encoder as the config describes it (before any training)
    spec: VideoSpec
    _splits: dict[str, datasets.Split] = dataclasses.field(default_factory=dict, repr=False)
    _weights: dict[str, Any] | None = dataclasses.field(default=None, repr=False)
    _state_memo: dict[Any, Any] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls,
        config: ml_collections.ConfigDict,
        workdir: str,
        *,
        model_overrides: dict[str, Any] | None = None,
    ) -> "RunContext":
        enc = config.encoder
        model, spec = open_encoder(enc, model_overrides=model_overrides)
        logging.info(
            "encoder %s (%s, attention %s), input %s", enc.name, enc.dtype, enc.get("attention", "auto"), spec
        )
        return cls(config, workdir, parallel.make_mesh(), model, spec)

    # --- who we are ---------------------------------------------------------------------------------
    @property
    def encoder_name(self) -> str:
        return self.config.encoder.name

    @property
    def is_main(self) -> bool:
        return parallel.is_main_process()

    def block(self, name: str, *, evaluator: str) -> ml_collections.ConfigDict:
        """The config block `name` an evaluator reads (an error naming both when the config has none)."""
        if name not in self.config:
            raise ValueError(
                f"evaluator {evaluator!r} reads config.{name}, which this config does not have "
                f"(its blocks: {', '.join(self.config.keys())})"
            )
        return self.config[name]

    def per_state(self, key: Any, make: Callable[[], Any]) -> Any:
        """`make()` once per encoder state for `key`: what several evaluators of one state share (the
        text side's embeddings, say). The engine forgets it when it moves to the next state, whose
        weights differ (`new_state`)."""
        if key not in self._state_memo:
            self._state_memo[key] = make()
        return self._state_memo[key]

    def new_state(self) -> None:
        self._state_memo.clear()

    # --- data -----------------------------------------------------------------------------------------
    def split(self, name: str) -> datasets.Split:
        """A split by name ("<builder>/<config>:<split>"), opened (and built if the config allows) once."""
        if name not in self._splits:
            data = self.config.data
            self._splits[name] = datasets.open_split(
                name,
                data.data_dir,
                build_if_missing=data.build_if_missing,
                manual_dir=data.manual_dir or None,
            )
        return self._splits[name]

    def class_names(self, names: Sequence[str]) -> tuple[str, ...]:
        """The class names the splits share (an error naming the split that differs)."""
        first = self.split(names[0]).class_names
        for name in names[1:]:
            if self.split(name).class_names != first:
                raise ValueError(f"{name} has classes {self.split(name).class_names}, {names[0]} has {first}")
        return first

    def metadata(self, name: str, fields: Sequence[str], indices=None) -> dict[str, np.ndarray]:
        """Per-video values of `fields` of a split, in record order (or at `indices`), for breakdowns."""
        return datasets.split_metadata(
            self.split(name), fields, num_threads=self.config.data.num_threads, indices=indices
        )

    def validation_split(self, gallery: str, candidates: Sequence[str]) -> str:
        """The first of `candidates` that the gallery's dataset has ("" when none), e.g. RoCoG-v2's syn
        `val` or real `val_tsonly`, never the gallery split itself."""
        ref = self.split(gallery).ref  # opened first: a dataset built on first use has its splits now
        have = datasets.builder(ref.dataset, self.config.data.data_dir).info.splits
        if not have:
            raise RuntimeError(
                f"{ref.dataset} lists no splits in {self.config.data.data_dir or 'the default'}"
            )
        name = next((f"{ref.dataset}:{s}" for s in candidates if s in have and s != ref.split), "")
        logging.info(
            "probe settings for gallery %s are chosen on %s", gallery, name or "folds of the gallery"
        )
        return name

    def breakdown_groups(self, name: str, fields: Sequence[str], indices=None) -> dict[str, np.ndarray]:
        """Per-video values of a split's breakdown fields ("auto": the dataset's, from `data.groups`)."""
        if tuple(fields) == ("auto",):
            fields = groups.breakdown_fields(datasets.SplitRef.parse(name).dataset)
        return self.metadata(name, fields, indices) if fields else {}

    def probe_settings(self, block: ml_collections.ConfigDict) -> probe_selection.ProbeSettings:
        """A config's probe block (mode knn's ``knn``) as the protocol's settings."""
        return probe_selection.ProbeSettings(
            methods=tuple(block.methods),
            k=block.k,
            metric=block.metric,
            k_sweep=tuple(block.k_sweep),
            metrics=tuple(block.metrics),
            votes=tuple(block.votes),
            temperature=block.temperature,
            weight_decays=tuple(block.weight_decays),
            num_folds=block.num_folds,
        )

    # --- vectors ----------------------------------------------------------------------------------------
    def extractor(
        self,
        model: nnx.Module | None = None,
        *,
        output: Callable[[nnx.Module, jax.Array], jax.Array] | None = None,
        output_name: str = "",
    ) -> features.Extractor:
        return features.Extractor(
            self.model if model is None else model,
            self.spec,
            self.mesh,
            output=output,
            output_name=output_name,
        )

    def vectors(
        self,
        names: Sequence[str],
        extractor: features.Extractor | None = None,
        *,
        key_extra: dict[str, Any] | None = None,
        cache: bool = True,
    ) -> dict[str, features.VideoVectors]:
        """Each named split's vectors (the encoder's features unless `extractor` says otherwise), from the
        shared cache when present. `key_extra` distinguishes weights or outputs the config does not name
        (fine-tuned weights' checksum, head logits); `cache=False` computes without touching the disk."""
        extract = self.config.extract
        extractor = extractor or self.extractor()
        self.class_names(list(names))
        out = {}
        for name in dict.fromkeys(names):
            split = self.split(name)
            out[name] = features.extract(
                extractor,
                split,
                cache_dir=self.cache_dir() if cache else None,
                meta=self._cache_key(split, extractor.spec, key_extra),
                per_device_batch=extract.per_device_batch,
                chunk_batches=extract.chunk_batches,
                num_threads=self.config.data.num_threads,
                about={"weights": self.weights_provenance()},
            )
        return out

    def token_extractor(
        self, recipe: token_extraction.TokenRecipe, model: nnx.Module | None = None
    ) -> features.Extractor:
        """The extractor of `recipe`'s tokens (every view kept, in the recipe's dtype) for `model` (an
        encoder state's weights, default the configured encoder)."""
        return features.Extractor(
            self.model if model is None else model,
            self.spec,
            self.mesh,
            output=functools.partial(token_layout.recipe_tokens, layers=recipe.layers, window=recipe.pool),
            output_name=recipe.describe(),
            keep_views=recipe.dtype,
        )

    def tokens(
        self,
        names: Sequence[str],
        extractor: features.Extractor,
        recipe: token_extraction.TokenRecipe,
        *,
        key_extra: dict[str, Any] | None = None,
    ) -> dict[str, token_store.TokenStore]:
        """Each named split's token store under `recipe`, computed by its `token_extractor`, extracted
        into the shared cache once and read from there after."""
        extract = self.config.extract
        self.class_names(list(names))
        out = {}
        for name in dict.fromkeys(names):
            split = self.split(name)
            out[name] = token_extraction.extract_tokens(
                extractor,
                split,
                cache_dir=self.cache_dir(),
                meta=self._cache_key(split, self.spec, {**(key_extra or {}), **recipe.key()}),
                per_device_batch=extract.per_device_batch,
                num_threads=self.config.data.num_threads,
                about={"weights": self.weights_provenance()},
            )
        return out

    def _cache_key(self, split: datasets.Split, spec: VideoSpec, extra: dict[str, Any] | None) -> dict:
        enc = self.config.encoder
        return features.cache_key(
            encoder=enc.name,
            weights=self.weights_provenance(),
            init_seed=enc.init_seed,
            dtype=enc.dtype,
            split=split,
            spec=spec,
            extra=extra,
        )

    def weights_provenance(self) -> dict[str, Any]:
        """Where the encoder's weights come from (model.json's record, read once): part of cache keys."""
        if self._weights is None:
            enc = self.config.encoder
            weights = models.weights_dir(enc.name, enc.checkpoint)
            self._weights = features.weights_provenance(weights, enc.init_seed)
        return self._weights

    def cache_dir(self) -> str:
        """Where cached vectors live: ``extract.cache_dir``, else ``<workdir>/features``."""
        return self.config.extract.cache_dir or os.path.join(self.workdir, "features")

    # --- training ---------------------------------------------------------------------------------------
    def train_classifier(
        self, block: ml_collections.ConfigDict, *, train_split: str, val_split: str, **kwargs: Any
    ) -> supervised.Trained:
        """`supervised.train_classifier` on this run's encoder, mesh and workdir; the best checkpoint by the
        head's accuracy on `val_split` (one compiled extractor, each validation swapping in the weights)."""
        extractor = None

        def validate(classifier: nnx.Module, kept: list[int]) -> float:
            nonlocal extractor
            if extractor is None:
                extractor = self.extractor(
                    classifier, output=supervised.logits, output_name=supervised.HEAD_OUTPUT
                )
            extractor.set_model(classifier)
            head = self.vectors([val_split], extractor, cache=False)[val_split]
            labels, predictions = method_rows.head_predictions(head, kept)
            return float((predictions == labels).mean()) if len(labels) else float("nan")

        setting = supervised.Setting(
            split=self.split(train_split),
            spec=self.spec,
            mesh=self.mesh,
            seed=self.config.seed,
            num_threads=self.config.data.num_threads,
            workdir=self.workdir,
            is_main=self.is_main,
        )
        return supervised.train_classifier(
            self.model, self.encoder_name, block, setting, validate=validate, **kwargs
        )

    # --- results ----------------------------------------------------------------------------------------
    def publish(self, results: report.Results) -> None:
        """Process 0 writes the report and prints its summary; the others only log."""
        if self.is_main:
            report.write(self.workdir, results)
            print(report.summary(results))
