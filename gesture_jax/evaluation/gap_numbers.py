"""The domain-gap diagnosis as typed values: what ``domain_gap.json`` holds per encoder, what its tables
(`diagnosis_tables`) and pictures read. JSON writes each value's fields by name (`infra.storage`),
leaving out the optional ones that are not set; the parameter-value entries are `analysis.attribution`'s.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gesture_jax.analysis.attribution import Ablation, Share, Step
from gesture_jax.infra import storage


@dataclasses.dataclass(frozen=True)
class PairGap:
    """How far apart two sets of features are (`analysis.domain`), each subsampled to `n_a` / `n_b`."""

    n_a: int
    n_b: int
    mmd2: float
    mmd2_p_value: float
    mmd2_bandwidth: float
    num_permutations: int
    frechet: float
    proxy_a_distance: float | None  # None: too few videos to cross-validate the domain classifier
    proxy_a_distance_not_computed: str | None = storage.optional()  # why not
    class_gaps: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # `domain.class_gaps`


@dataclasses.dataclass(frozen=True)
class Provenance:
    """Where the real queries' neighbours in a mixed gallery come from (`domain.neighbour_provenance`)."""

    k: int
    num_queries: int
    synthetic_share: float
    same_class_share: float
    same_class_share_of_synthetic: float
    same_class_share_of_real: float
    per_query_synthetic_share: list[float]


@dataclasses.dataclass(frozen=True)
class Neighbour:
    index: int  # in the synthetic gallery
    id: str
    label: str


@dataclasses.dataclass(frozen=True)
class Failure:
    """A real query the synthetic gallery gets wrong, with its nearest synthetic videos."""

    query_index: int
    id: str
    label: str
    predicted: str
    neighbours: list[Neighbour]


@dataclasses.dataclass(frozen=True)
class Curated:
    """The curated synthetic gallery: the values left out on the selection split, and its test score
    against the full gallery on the same queries."""

    selection: str
    rule: str
    max_steps: int
    selection_accuracy_full: float
    steps: list[Step]
    num_gallery: int
    gallery: str
    test_accuracy: float
    test_accuracy_full: float
    test_difference: float
    test_ci95: list[float]
    test_mcnemar_p: float


@dataclasses.dataclass(frozen=True)
class Attribution:
    """The synthetic gallery's KNN attributed to its generator parameter values (`analysis.attribution`)."""

    gallery: str
    queries: str
    k: int
    binning: dict[str, int]  # max_values, bins
    neighbour_shares: list[Share]
    leave_one_out: list[Ablation]  # classes_lost as class names
    curation: Curated | None = storage.optional()  # None: no selection split


@dataclasses.dataclass(frozen=True)
class DomainGap:
    """One encoder's entry of ``domain_gap.json``."""

    metric: str
    subsample: dict[str, Any]  # max_points, seed, rule
    pairs: dict[str, PairGap]  # "a | b" → numbers
    neighbour_provenance: dict[str, Provenance]  # "mixed gallery → queries" → shares
    attribution: Attribution | None = storage.optional()  # None: no generator parameters to attribute to
    failures: list[Failure] = dataclasses.field(default_factory=list)
