"""Token probes: V-JEPA 2's attentive probe against its own code, the grid trained as one program equal to
its members trained alone, the schedules, views and layers, and selection that never sees the queries."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gesture_jax.analysis import attentive_heads, probe_grid
from gesture_jax.evaluation import scoring, token_probe_rows
from gesture_jax.features import token_store

FIXTURE = "tests/fixtures/attentive_probe.npz"


def _reference():
    with np.load(FIXTURE) as z:
        return {k: z[k] for k in z.files}


def _setup(ref) -> attentive_heads.HeadConfig:
    s = {k.split("/", 1)[1]: int(v) for k, v in ref.items() if k.startswith("setup/") and v.dtype.kind == "i"}
    return attentive_heads.HeadConfig(
        "attentive_probe", s["embed_dim"], s["num_classes"], depth=s["depth"], num_heads=s["num_heads"]
    )


def _torch_name(path: tuple) -> str:
    """Our parameter path → the reference state_dict name."""
    parts = [str(p) for p in path]
    leaf = {"kernel": "weight", "scale": "weight", "bias": "bias"}.get(parts[-1], parts[-1])
    if parts[0] == "query":
        return "pooler.query_tokens"
    if parts[0] == "linear":
        return f"linear.{leaf}"
    if parts[0] == "blocks":
        inner = {"qkv": "attn.qkv", "proj": "attn.proj"}.get(parts[2], parts[2])
        return ".".join(["pooler.blocks", parts[1], inner, *parts[3:-1], leaf])
    inner = {"q": "xattn.q", "kv": "xattn.kv"}.get(parts[1], parts[1])
    return ".".join(["pooler.cross_attention_block", inner, *parts[2:-1], leaf])


def _load(model, ref, prefix: str):
    """The reference's weights (`prefix` "before" or "after") into our model; every tensor used once."""
    state = nnx.state(model)
    used = set()
    for path, variable in nnx.to_flat_state(state):
        name = _torch_name(path)
        value = ref[f"{prefix}/{name}"]
        value = value.T if path[-1] == "kernel" else value
        assert value.shape == variable.value.shape, name
        variable.value = jnp.asarray(value, jnp.float32)
        used.add(name)
    assert used == {k.split("/", 1)[1] for k in ref if k.startswith(f"{prefix}/")}
    nnx.update(model, state)
    return model


def test_attentive_probe_matches_vjepa2_code():
    """Logits of V-JEPA 2's AttentiveClassifier (3 self-attention blocks, a cross-attention block, 4 heads)
    on its own random weights, within 1e-5."""
    ref = _reference()
    model = _load(attentive_heads.build(_setup(ref), jax.random.key(0)), ref, "before")
    logits = model(jnp.asarray(ref["x"], jnp.float32))
    np.testing.assert_allclose(np.asarray(logits), ref["logits"], atol=1e-5, rtol=1e-5)


def test_its_initialisation_follows_the_reference():
    """Our init draws other numbers, but by the reference's rules: zero biases, trunc-normal 0.02
    weights with the projections rescaled by 1/√(2·layer), the classifier at torch's uniform default."""
    c = attentive_heads.HeadConfig("attentive_probe", 256, 7, depth=4, num_heads=8)
    model = attentive_heads.build(c, jax.random.key(1))
    std = lambda x: float(np.std(np.asarray(x[...])))  # noqa: E731
    assert abs(std(model.blocks[0].qkv.kernel) - 0.02) < 0.002
    assert abs(std(model.blocks[2].proj.kernel) - 0.02 / np.sqrt(6)) < 0.001
    assert abs(std(model.cross.mlp.fc2.kernel) - 0.02 / np.sqrt(6)) < 0.001
    assert not np.asarray(model.blocks[1].mlp.fc1.bias[...]).any()
    bound = 1 / np.sqrt(256)
    assert np.abs(np.asarray(model.linear.kernel[...])).max() <= bound
    assert np.asarray(model.linear.bias[...]).any()  # torch draws the bias too


def _store(tmp_path, x, labels, name="s"):
    folder = str(tmp_path / name)
    token_store.write_part(
        folder, 0, x, labels, np.array([f"{name}{i}" for i in range(len(labels))]), dtype="float32"
    )
    token_store.finish(folder, [len(labels)], x.shape[1:], "float32")
    return token_store.TokenStore.open(folder)


def test_the_training_steps_match_vjepa2_adamw_and_schedules(tmp_path):
    """Four updates of one member on the reference's batch: its warm-up then cosine learning rate, cosine
    weight decay and AdamW on every parameter, stepped as eval.py steps them."""
    ref = _reference()
    head = _setup(ref)
    s = {k.split("/", 1)[1]: float(v) for k, v in ref.items() if k.startswith("setup/")}
    settings = probe_grid.GridSettings(
        learning_rates=(s["ref_lr"],),
        weight_decays=(s["ref_wd"],),
        start_lr_fraction=s["start_lr"] / s["ref_lr"],
        final_lr=s["final_lr"],
        final_weight_decay=s["final_wd"],
    )
    lr, wd = probe_grid._schedules(settings, jnp.float32(s["ref_lr"]), jnp.float32(s["ref_wd"]), 4, 2)
    np.testing.assert_allclose([lr(c) for c in range(4)], ref["lrs"], rtol=1e-6)
    np.testing.assert_allclose([wd(c) for c in range(4)], ref["wds"], rtol=1e-6)

    model = _load(attentive_heads.build(head, jax.random.key(0)), ref, "before")
    params = jax.tree.map(lambda a: a[None], nnx.state(model))
    length = np.array([4, 2], np.int32)
    hyper = (np.float32([s["ref_lr"]]), np.float32([s["ref_wd"]]))
    opt_state = jax.vmap(lambda p, a, b: probe_grid._optimizer(settings, a, b, length).init(p))(
        params, *hyper
    )
    step = probe_grid._train_step(nnx.graphdef(model), head.num_classes, probe_grid._recipe(settings), 1)
    x = ref["x"].astype(np.float32)[:, None, None]
    keys = jax.random.split(jax.random.key(0), 1)
    state = (params, opt_state)
    batch = (x, ref["y"].astype(np.int32), np.ones(3, np.float32))
    for count in range(4):
        state, _ = step(state, (*hyper, np.int32([0]), keys), length, np.int32(count), batch)
    params = state[0]

    expected = _load(attentive_heads.build(head, jax.random.key(0)), ref, "after")
    for (path, got), (_, want) in zip(nnx.to_flat_state(params), nnx.to_flat_state(nnx.state(expected))):
        np.testing.assert_allclose(
            np.asarray(got.value)[0], np.asarray(want.value), atol=2e-5, err_msg=str(path)
        )


@pytest.mark.slow_variants
@pytest.mark.parametrize("kind", attentive_heads.HEADS)
def test_the_grid_in_one_program_equals_each_member_alone(tmp_path, kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2, 1, 6, 16)).astype(np.float32)  # 2 views
    labels = rng.integers(0, 3, 20).astype(np.int32)
    data = probe_grid.TokenSet(_store(tmp_path, x, labels), np.arange(20), labels)
    head = attentive_heads.HeadConfig(kind, 16, 3, depth=2, num_heads=2)
    grid = probe_grid.GridSettings(
        learning_rates=(3e-3, 1e-3), weight_decays=(0.01, 0.4), epochs=3, batch_size=8
    )
    together = probe_grid.train(head, grid, data, seed=5)
    p_together = probe_grid.probabilities(together, data, batch_size=8)
    assert [(m.learning_rate, m.weight_decay) for m in together.members] == [
        (3e-3, 0.01), (3e-3, 0.4), (1e-3, 0.01), (1e-3, 0.4)
    ]  # fmt: skip
    # Member i alone: the same seed gives it the same initialisation only as member i, so compare the grid
    # against itself re-run (determinism) and against members trained in a smaller grid of the same order.
    again = probe_grid.probabilities(probe_grid.train(head, grid, data, seed=5), data, batch_size=8)
    np.testing.assert_array_equal(p_together, again)
    first = dataclasses.replace(grid, learning_rates=(3e-3,), weight_decays=(0.01,))
    alone = probe_grid.probabilities(probe_grid.train(head, first, data, seed=5), data, batch_size=8)
    if kind == "attentive_probe":  # no dropout: the first member's path is the same key, batches, updates
        np.testing.assert_allclose(alone[0], p_together[0], atol=1e-5)
    assert p_together.shape == (4, 20, 3)
    np.testing.assert_allclose(p_together.sum(-1), 1.0, atol=1e-5)
    other_seed = probe_grid.probabilities(probe_grid.train(head, grid, data, seed=6), data, batch_size=8)
    assert not np.allclose(other_seed, p_together)


def test_streamed_and_device_resident_training_agree(tmp_path, monkeypatch):
    """A set that fits trains from device memory an epoch per program; a larger one streams batches from
    the store: the same batches and updates (close, as two compiled programs round alike only nearly)."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(19, 1, 1, 6, 16)).astype(np.float32)
    labels = rng.integers(0, 3, 19).astype(np.int32)
    data = probe_grid.TokenSet(_store(tmp_path, x, labels), np.arange(19), labels)
    head = attentive_heads.HeadConfig("attentive_pooler", 16, 3, num_heads=2)
    grid = probe_grid.GridSettings(learning_rates=(3e-3, 1e-3), weight_decays=(0.1,), epochs=2, batch_size=8)
    resident = probe_grid.train(head, grid, data, seed=1)
    monkeypatch.setattr(probe_grid, "RESIDENT_BYTES", 0)
    streamed = probe_grid.train(head, grid, data, seed=1)
    np.testing.assert_allclose(resident.losses, streamed.losses, rtol=1e-5)
    np.testing.assert_allclose(
        probe_grid.probabilities(resident, data), probe_grid.probabilities(streamed, data), atol=1e-5
    )


def test_views_are_averaged_as_probabilities(tmp_path):
    """A video's probabilities are the mean of its views' softmax (V-JEPA 2's and VideoGLUE's test)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3, 1, 5, 8)).astype(np.float32)
    labels = np.array([0, 1, 0, 1], np.int32)
    store = _store(tmp_path, x, labels)
    head = attentive_heads.HeadConfig("attentive_probe", 8, 2, depth=1, num_heads=2)
    grid = probe_grid.GridSettings(learning_rates=(1e-3,), weight_decays=(0.1,), epochs=1, batch_size=4)
    trained = probe_grid.train(head, grid, probe_grid.TokenSet(store, np.arange(4), labels), seed=0)
    got = probe_grid.probabilities(trained, probe_grid.TokenSet(store, np.arange(4), labels))[0]
    model = nnx.merge(trained.graphdef, jax.tree.map(lambda a: a[0], trained.params))
    per_view = [jax.nn.softmax(model(jnp.asarray(x[:, v, 0])), -1) for v in range(3)]
    np.testing.assert_allclose(got, np.mean(per_view, axis=0), atol=1e-6)


@pytest.mark.slow_variants
@pytest.mark.parametrize("mode, dim, members", [("tokens", 8, 1), ("channels", 16, 1), ("per_layer", 8, 2)])
def test_several_layers_are_read_as_configured(tmp_path, mode, dim, members):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 1, 2, 4, 8)).astype(np.float32)  # 2 layers of 4 tokens × 8 channels
    labels = np.array([0, 1, 2, 0, 1, 2], np.int32)
    store = _store(tmp_path, x, labels)
    assert probe_grid.head_dim(store.shape, mode) == dim
    grid = probe_grid.GridSettings(
        learning_rates=(1e-3,), weight_decays=(0.1,), epochs=1, batch_size=3, layer_mode=mode
    )
    head = attentive_heads.HeadConfig("attentive_pooler", dim, 3, num_heads=2)
    trained = probe_grid.train(head, grid, probe_grid.TokenSet(store, np.arange(6), labels), seed=0)
    assert [m.layer for m in trained.members] == ([0, 1] if mode == "per_layer" else [None])
    assert probe_grid.probabilities(trained, probe_grid.TokenSet(store, np.arange(6), labels)).shape == (
        members,
        6,
        3,
    )


def _rows(tmp_path, queries_labels, validation=True, oracle=False):
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 1, 1, 1, 8)) * 2

    def make(name, labels):  # noqa: E306
        x = (centres[labels] + rng.normal(size=(len(labels), 1, 1, 4, 8))).astype(np.float32)
        return _store(tmp_path, x, labels, name)

    gallery = make("g", np.tile([0, 1, 2], 8).astype(np.int32))
    val = (
        token_probe_rows.TokenValidation("ds:val", make("v", np.tile([0, 1, 2], 3).astype(np.int32)))
        if validation
        else token_probe_rows.TokenValidation()
    )
    queries = {"ds:test": make("q", queries_labels)}
    grid = probe_grid.GridSettings(
        learning_rates=(3e-3, 1e-4), weight_decays=(0.01, 0.8), epochs=2, batch_size=8
    )
    settings = token_probe_rows.TokenProbeSettings(
        methods=("attentive_pooler",), seeds=(0, 1), grid=grid, heads={"attentive_pooler": {"num_heads": 2}},
        num_folds=3, query_oracle=oracle,
    )  # fmt: skip
    key = scoring.RowKey("", "enc", "frozen", "ds:train", "")
    return token_probe_rows.token_probe_rows(
        gallery, queries, val, settings, class_names=("a", "b", "c"), key=key
    )


def test_the_choice_is_made_on_validation_and_never_sees_the_queries(tmp_path):
    labels = np.tile([0, 1, 2], 4).astype(np.int32)
    rows, spreads = _rows(tmp_path / "a", labels)
    flipped, _ = _rows(tmp_path / "b", (labels + 1) % 3)  # other query labels: the same choices
    assert [r.method for r in rows] == ["attentive_pooler"] * 2 and [r.key.seed for r in rows] == [0, 1]
    for row, other in zip(rows, flipped):
        assert row.selection["on"] == "ds:val" and row.selection["rule"] == token_probe_rows.SELECTION_RULE
        assert len(row.selection["candidates"]) == 4
        assert (row.key.learning_rate, row.key.weight_decay) == (
            other.key.learning_rate,
            other.key.weight_decay,
        )
        assert (row.selection["learning_rate"], row.selection["weight_decay"]) == (
            row.key.learning_rate,
            row.key.weight_decay,
        )
        best = max(row.selection["candidates"], key=lambda c: c["validation_accuracy"])
        assert best["validation_accuracy"] == max(
            c["validation_accuracy"] for c in row.selection["candidates"]
        )
    assert rows[0].roles == ("selected",) and rows[1].roles == ("selected", "other_seed")
    assert rows[0].pairable and not rows[1].pairable
    (spread,) = spreads
    assert spread.seeds == [0, 1] and spread.mean == pytest.approx(
        np.mean([r.metrics["accuracy"] for r in rows])
    )


def test_without_a_validation_split_folds_choose_and_the_oracle_row_says_what_it_is(tmp_path):
    rows, _ = _rows(tmp_path, np.tile([0, 1, 2], 4).astype(np.int32), validation=False, oracle=True)
    chosen = [r for r in rows if r.method == "attentive_pooler"]
    oracle = [r for r in rows if r.method == "attentive_pooler" + scoring.ORACLE_SUFFIX]
    assert len(chosen) == len(oracle) == 2
    assert all(r.selection["on"].startswith("3-fold cross-validation") for r in chosen)
    for o, c in zip(oracle, chosen):
        assert "query_oracle" in o.roles and not o.pairable and "selected" not in o.roles
        assert o.metrics["accuracy"] >= c.metrics["accuracy"]  # the best on the queries, by construction
        assert "queries themselves" in o.selection["on"]


@pytest.mark.slow
def test_the_attentive_demo_smoke_as_a_user_runs_it(toy_data_dir, tmp_path):
    """The contract: rows of method attentive_probe, one per seed (at least 2), each with its interval, the
    split or folds it was chosen on (never a query split) and its learning rate and weight decay out of a
    recorded grid of at least 4; here on 8 devices, the toy sets from the session's data dir."""
    import json

    from main_runs import run_main

    result = run_main(
        "configs/probes/attentive_demo.py:smoke",
        tmp_path,
        f"--config.data.data_dir={toy_data_dir}",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    queries = {r["queries"] for r in results["rows"]}
    probes = [r for r in results["rows"] if r["method"] == "attentive_probe"]
    assert len({r["seed"] for r in probes}) >= 2
    for row in probes:
        lo, hi = row["accuracy_ci95"]
        assert lo <= row["accuracy"] <= hi
        chosen_on = row["selection"]["on"]
        assert chosen_on not in queries and ("val" in chosen_on or "fold" in chosen_on)
        grid = row["selection"]["candidates"]
        assert len(grid) >= 4
        assert {"learning_rate": row["learning_rate"], "weight_decay": row["weight_decay"]} in [
            {k: c[k] for k in ("learning_rate", "weight_decay")} for c in grid
        ]
    assert {r["method"] for r in results["rows"]} >= {
        "knn",
        "attentive_pooler",
        "attentive_probe_best_on_queries",
    }
    assert len(results["seed_spread"]) == 4  # 2 galleries × 2 probes
    assert "## Token probes across seeds" in (tmp_path / "results.md").read_text()


def test_the_gap_change_is_a_paired_difference_of_differences():
    def row(gallery, method, correct):
        labels = np.arange(len(correct)) % 2
        key = scoring.RowKey(method, "enc", "frozen", gallery, "q")
        predictions = np.where(np.asarray(correct, bool), labels, 1 - labels)
        ids = np.array([f"v{i}" for i in range(len(correct))])
        return scoring.score(key, labels, predictions, ids, ("a", "b"), num_gallery=4)

    syn_knn, real_knn = row("syn", "knn", [0, 0, 1, 0, 1, 0]), row("real", "knn", [1, 1, 1, 1, 1, 0])
    syn_p, real_p = (
        row("syn", "attentive_probe", [1, 0, 1, 1, 1, 0]),
        row("real", "attentive_probe", [1, 1, 1, 1, 1, 0]),
    )
    change = token_probe_rows.gap_change(syn_p, real_p, syn_knn, real_knn)
    assert change.knn_gap == pytest.approx(2 / 6 - 5 / 6) and change.probe_gap == pytest.approx(4 / 6 - 5 / 6)
    assert change.change == pytest.approx(2 / 6)  # the synthetic gallery gained two videos, the real none
    lo, hi = change.ci95
    assert lo <= change.change <= hi
    with pytest.raises(ValueError, match="same query videos"):
        token_probe_rows.gap_change(syn_p, real_p, syn_knn, row("real", "knn", [1, 1, 1]))


def test_head_counts_are_checked_against_the_width():
    assert attentive_heads.HeadConfig("attentive_pooler", 1280, 5, num_heads=0).num_heads == 20
    assert attentive_heads.HeadConfig("attentive_pooler", 768, 5, num_heads=0).num_heads == 12  # VideoGLUE's
    with pytest.raises(ValueError, match=r"16 heads do not divide the tokens' 100 channels.*attentive_probe"):
        attentive_heads.HeadConfig("attentive_probe", 100, 5)
    with pytest.raises(ValueError, match="unknown token probe 'mlp'"):
        attentive_heads.HeadConfig("mlp", 64, 5)
