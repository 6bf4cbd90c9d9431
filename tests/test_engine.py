"""The evaluation engine: evaluators at every encoder state, their outputs merged, one report."""

import dataclasses
import sys
import types

import ml_collections
import numpy as np
import pytest

from gesture_jax import config_lib
from gesture_jax.evaluation import engine, scoring
from gesture_jax.evaluation.engine import EncoderState, EvalOutput
from gesture_jax.evaluation.run_context import RunContext


def _row(evaluator, state, correct):
    labels = np.array([0, 1, 0, 1])
    key = dataclasses.replace(
        state.key("enc", gallery=evaluator, queries="q"), method="knn", k=1, metric="l2"
    )
    return scoring.score(key, labels, np.where(correct, labels, 1 - labels), ["a", "b", "c", "d"], ("x", "y"))


def _context() -> RunContext:
    return RunContext(ml_collections.ConfigDict(), "", mesh=None, model=None, spec=None)


@pytest.fixture
def fake_evaluators(monkeypatch):
    """Two evaluators registered as modules of gesture_jax.evaluators, recording their calls."""
    calls = []

    def module(name, correct, **output):
        m = types.ModuleType(f"gesture_jax.evaluators.fake_{name}")

        def run(ctx, state):
            calls.append((name, state.name))
            made = ctx.per_state("shared", lambda: (name, state.name))  # the first evaluator's, per state
            calls.append(("shared", made))
            return EvalOutput([_row(name, state, correct)], **output)

        m.run = run
        monkeypatch.setitem(sys.modules, m.__name__, m)
        return f"fake_{name}"

    table = {
        "first": module("first", np.array([1, 1, 1, 0], bool), sections=[("one", "## One\n")], title="T"),
        "second": module("second", np.array([1, 0, 0, 0], bool), extra={"entry": [1]}, note="N"),
    }
    monkeypatch.setattr(engine, "EVALUATORS", table)
    return calls


def test_every_evaluator_runs_at_every_state_in_order(fake_evaluators):
    states = [EncoderState(), EncoderState("fine-tuned", 1.0, {"finetuned": "abc"})]
    out = engine.evaluate(_context(), ["first", "second"], states)
    assert [c for c in fake_evaluators if c[0] != "shared"] == [
        ("first", "frozen"), ("second", "frozen"), ("first", "fine-tuned"), ("second", "fine-tuned")
    ]  # fmt: skip
    # What the evaluators of one state share is made once for that state, and anew for the next.
    shared = [c[1] for c in fake_evaluators if c[0] == "shared"]
    assert shared == [("first", "frozen")] * 2 + [("first", "fine-tuned")] * 2
    assert [(r.gallery, r.encoder_state) for r in out.rows] == [
        ("first", "frozen"), ("second", "frozen"), ("first", "fine-tuned"), ("second", "fine-tuned")
    ]  # fmt: skip
    assert out.rows[2].key.alpha == 1.0 and out.rows[0].key.alpha is None
    assert (out.title, out.note, out.extra) == ("T", "N", {"entry": [1]})
    assert out.sections == [("one", "## One\n"), ("one", "## One\n")]


def test_publish_compares_the_rows_unless_told_otherwise(fake_evaluators):
    published = []
    ctx = _context()
    ctx.publish = published.append
    out = engine.evaluate(ctx, ["first", "second"])
    rows = engine.publish(ctx, out)
    (results,) = published
    assert results.rows == rows and results.title == "T" and results.extra == {"entry": [1]}
    assert [(c["a"], c["b"]) for c in results.comparisons] == [(rows[0].id, rows[1].id)]
    engine.publish(ctx, out, title="Other", comparisons=lambda rows: [])
    assert published[1].title == "Other" and published[1].comparisons == []


def test_unknown_evaluators_and_missing_blocks_are_named():
    with pytest.raises(
        ValueError, match=r"unknown evaluator 'probe' \(did you mean 'probes'\?\); evaluators: probes"
    ):
        engine.evaluate(None, ["probe"])
    config = config_lib.load_file("configs/demo.py:smoke")
    assert engine.evals(config) == ("probes",)
    ctx = types.SimpleNamespace(config=config)
    with pytest.raises(
        ValueError, match="evaluator 'curves' reads config.curves, which this config does not have"
    ):
        RunContext.block(ctx, "curves", evaluator="curves")
    without = ml_collections.ConfigDict({"mode": "diagnose"})
    assert engine.evals(without) == ("domain_gap",)  # a config without the list: its mode's default


def test_a_rows_key_is_typed_and_names_it():
    state = EncoderState("interpolated", 0.25, {"finetuned": "abc"})
    labels = np.array([0, 1])
    key = state.key("enc", gallery="g:train", queries="q:test (seen classes)", class_subset="seen")
    key = dataclasses.replace(key, method="linear_probe", metric="l2", weight_decay=0.01)
    row = scoring.score(key, labels, labels, ["a", "b"], ("x", "y"))
    key = row.key
    assert (key.alpha, key.class_subset, key.metric, key.weight_decay, key.k) == (
        0.25,
        "seen",
        "l2",
        0.01,
        None,
    )
    assert (
        row.id
        == key.id
        == "enc_interpolated_alpha0.25_seen_g-train_q-test-seen-classes-_l2_linear_probe_wd0.01"
    )
