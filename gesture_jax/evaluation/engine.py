"""One evaluation engine: evaluators run over encoder states, the runner collects and publishes.

An evaluator is a module of `gesture_jax.evaluators` with ``run(ctx, state) -> EvalOutput``: it reads its
own config block through the run context, scores what it evaluates into rows (`scoring.score` and the
row makers) and returns them with any report sections, top-level results.json entries and files it
wrote. It never writes the report: `evaluate` runs the evaluators a config lists (``config.evals``, as
big_vision's) for each encoder state, and `publish` logs, compares and writes once. A mode is then a
short list (which evaluators, which states), and fine-tuning is "train, then the same evaluators at
each encoder state" (frozen, interpolated α, fine-tuned).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flax import nnx

from gesture_jax import config_lib
from gesture_jax.evaluation import headline, paired_comparisons, report, scoring

# Evaluator name -> its module in gesture_jax.evaluators (imported when a run names it).
EVALUATORS = {
    "probes": "probes",  # KNN sweep, prototypes, linear probe; settings chosen on validation (config.knn)
    "curves": "curves",  # few-shot and mixed galleries, the real-video equivalent (config.curves)
    "zeroshot": "zeroshot_prompts",  # text prompts and the prompt lab (config.zeroshot)
    "text_examples": "text_examples",  # text + a few labelled videos per class (config.zeroshot.fewshot)
    "domain_gap": "domain_gap",  # gap numbers, attribution and curation, pictures (config.diagnose)
    "seen_novel": "seen_novel",  # KNN and probes per class subset, novel few-shot (config.finetune)
    "attentive": "attentive",  # attentive probe and pooler on frozen tokens (config.attentive)
    "head": "head",  # the classifier head of a trained state on validation and test (config.finetune)
}


@dataclasses.dataclass(frozen=True)
class EncoderState:
    """Which weights an evaluator sees. `name` is the rows' ``encoder_state``; `alpha` their α (rows of
    runs that train carry it, frozen ones included); `key_extra` tells the state's cached features apart
    from the configured encoder's; `extractor` computes them (None: the run's encoder as configured);
    `trained` is what training returned (a head to evaluate), None for states without one. A state is
    evaluated when it is made: a run that walks several states swaps the next weights into the same
    extractor (one compilation), so an older state's `extractor` then computes the newer weights."""

    name: str = "frozen"
    alpha: float | None = None
    key_extra: dict[str, Any] | None = None
    trained_on: str = ""
    extractor: Any = None  # features.extraction.Extractor
    trained: Any = None  # train.supervised.Trained

    def key(self, encoder: str, *, gallery: str = "", queries: str = "", **fields: Any) -> scoring.RowKey:
        """The key of this state's rows (the row makers fill in the method and its settings)."""
        return scoring.RowKey("", encoder, self.name, gallery, queries, alpha=self.alpha, **fields)

    @property
    def model(self) -> nnx.Module | None:
        return None if self.extractor is None else self.extractor.model


FROZEN = EncoderState()


@dataclasses.dataclass
class EvalOutput:
    """What an evaluator returns: rows, report sections ((heading, markdown)), top-level results.json
    entries, and the files it wrote beside the report; `title` and `note` are its report's, used when it
    is the first evaluator of a run; `compare`: whether its rows are compared pairwise; `focus`: the
    comparisons the run is about, (row id a, row id b), which open the report (`evaluation.headline`)."""

    rows: list[scoring.Row] = dataclasses.field(default_factory=list)
    sections: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    artifacts: list[str] = dataclasses.field(default_factory=list)
    title: str = ""
    note: str = ""
    compare: bool = True
    focus: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def add(self, other: "EvalOutput") -> "EvalOutput":
        self.rows += other.rows
        self.sections += other.sections
        self.extra.update(other.extra)
        self.artifacts += other.artifacts
        self.title, self.note = self.title or other.title, self.note or other.note
        self.compare = self.compare and other.compare
        self.focus += other.focus
        return self


def import_by_name(name: str, table: dict[str, str], *, kind: str, package: str):
    """``package.<table[name]>``, imported; a ValueError naming the known names (and the closest) else."""
    if name not in table:
        close = difflib.get_close_matches(name, list(table), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown {kind} {name!r}{hint}; {kind}s: {', '.join(table)}")
    return importlib.import_module(f"{package}.{table[name]}")


def get(name: str):
    """The evaluator module called `name` (a ValueError naming the known ones otherwise)."""
    return import_by_name(name, EVALUATORS, kind="evaluator", package="gesture_jax.evaluators")


def check(config, names: Sequence[str]) -> None:
    """Each evaluator's own checks of its config block (its optional ``check(config)``), run before the
    encoder loads: a mistyped prompt set or split fails in a second, not after the weights."""
    for name in names:
        module = get(name)
        if hasattr(module, "check"):
            module.check(config)


def frozen_run(config, workdir: str) -> list[scoring.Row]:
    """A mode that evaluates the configured encoder as it is: the evaluators of ``config.evals`` (the
    mode's default list when the config has none), one report."""
    from gesture_jax.evaluation.run_context import RunContext

    names = evals(config)
    check(config, names)
    ctx = RunContext.create(config, workdir)
    return publish(ctx, evaluate(ctx, names))


def evaluate(ctx, names: Sequence[str], states: Iterable[EncoderState] = (FROZEN,)) -> EvalOutput:
    """Every evaluator of `names` at every state, in that order (states outer)."""
    modules = [get(n) for n in names]  # an unknown name fails before any work
    out = EvalOutput()
    for state in states:
        ctx.new_state()
        for module in modules:
            out.add(module.run(ctx, state))
    return out


def publish(
    ctx,
    out: EvalOutput,
    *,
    title: str = "",
    comparisons: Callable[[list[scoring.Row]], list[dict[str, Any]]] | None = None,
) -> list[scoring.Row]:
    """The report of a run: its rows, their paired comparisons (`comparisons` filters or replaces them),
    the evaluators' sections and entries, written once by process 0."""
    if comparisons is not None:
        compared = comparisons(out.rows)
    else:
        compared = paired_comparisons.comparisons(out.rows, report.table_label) if out.compare else []
    ctx.publish(
        report.Results(
            title or out.title,
            out.rows,
            compared,
            note=out.note,
            sections=out.sections,
            extra=out.extra,
            headline=headline.section(out.rows, compared, out.focus),
        )
    )
    return out.rows


def evals(config) -> tuple[str, ...]:
    """The evaluators a config lists (``config.evals``), else its mode's (`config_lib.MODE_EVALS`)."""
    return tuple(config.get("evals", ()) or config_lib.evals(config.mode))
