"""The port conformance kit: every fixture case of family_cases.CASES (each encoder family's reference
checkpoints) goes through the same checks.

* the convert command (its absl main, in-process; once as a subprocess) converts it, recording the
  source files, the keys dropped by rule, the model config and the protocol, and the model matches
  every reference output (text tower and zero-shot scores included) at the case's tolerances;
* another file of the same weights converts to the same parameters;
* `--verify` counts every tensor and names a tensor whose one value changed;
* other frame counts run as the family's rule says (the count a model is loaded for changes no result
  on a clip it can run) and match the reference where one exists; other frame sizes run; clips the model
  cannot run are refused with the reason;
* bfloat16 compute stays within 5e-2;
* a missing, unexpected or wrong-shape key is refused naming it, and nothing is written.

Each case is converted once per test process (`family_cases.converted`); the per-family test files keep
what only their family has.
"""

import os

import jax.numpy as jnp
import numpy as np
import pytest
from family_cases import (
    CASES,
    Output,
    clip,
    converted,
    evaluate,
    loaded,
    read_source,
    reference,
    write_source,
)
from flax import nnx
from port_cases import cli, cli_in_process, max_diff

from gesture_jax import models
from gesture_jax.models import model_dir, registry

# The fast tier (`make test-fast`) checks the first case of each family; `make test` checks every case.
_FIRST_OF_FAMILY = {case.family: case for case in reversed(CASES)}


def _marks(case, check: str = "") -> list:
    slow = check in case.slow_checks or _FIRST_OF_FAMILY[case.family] is not case
    return [pytest.mark.slow] if slow else []


by_case = pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=_marks(c)) for c in CASES])


def _cases(check: str):
    """Parametrizes a test over the cases, the ones whose `check` is slow marked so."""
    cases = [pytest.param(c, id=c.name, marks=_marks(c, check)) for c in CASES]
    return pytest.mark.parametrize("case", cases)


def _each(field: str, check: str = "") -> list:
    """(case, item) for every item of every case's `field`."""
    named = lambda item: "x".join(map(str, item)) if isinstance(item, tuple) else os.path.basename(str(item))
    return [
        pytest.param(c, item, id=f"{c}-{named(item)}", marks=_marks(c, check))
        for c in CASES
        for item in getattr(c, field)
    ]


def _table_outputs(case) -> tuple[Output, ...]:
    return tuple(o for o in case.all_outputs() if o.frames is None)


def _features_of(name: str) -> Output:
    return Output(f"features of {name}", lambda m, v: m.features(v[name]))


# ----------------------------------------------------------------------------------------- the table


def test_every_ported_family_has_a_case():
    assert {case.family for case in CASES} == set(registry.ported_families())
    assert len({case.name for case in CASES}) == len(CASES)


@by_case
def test_every_case_damages_each_kind_and_checks_each_output(case):
    assert {damage.kind for damage in case.damages} == {"missing", "unexpected", "reshaped"}
    # An output at a frame count the case does not list would never be computed.
    assert {o.frames for o in case.all_outputs()} <= {None, *case.frame_counts}
    for frames in {o.frames for o in case.all_outputs()}:
        names = [o.name for o in case.all_outputs() if o.frames == frames]
        assert len(names) == len(set(names)), names
    assert set(case.bfloat16) <= {o.name for o in _table_outputs(case)}
    assert set(case.slow_checks) <= {"reference", "bfloat16", "frames", "sizes"}


# ------------------------------------------------------------------------ conversion and the reference


@by_case
def test_the_command_converts_it_recording_the_source_and_geometry(case):
    done = converted(case.name)
    assert done.status == 0
    assert f"{case.src} -> {done.dst}: {case.family}, " in done.stdout
    assert f", {case.dropped} keys dropped by rule" in done.stdout
    meta = model_dir.read_meta(done.dst)
    source = meta["source"]
    files = ["config.json", "model.safetensors"] if os.path.isdir(case.src) else [os.path.basename(case.src)]
    assert source["format"] == case.format and source["files"] == files
    assert len(source["dropped_keys"]) == case.dropped
    assert all(key.startswith(case.dropped_prefix) for key in source["dropped_keys"])
    assert source["all_zero_tensors"] == []
    if case.recorded_config is not None:
        assert meta["model_config"] == case.recorded_config
    spec = models.load(done.dst)[1]
    assert {field: getattr(spec, field) for field in case.spec} == dict(case.spec)
    # A family with a text tower must list its outputs, which the next test matches.
    assert hasattr(loaded(case.name), "encode_text") == bool(case.text)


@_cases("reference")
def test_the_model_matches_every_reference_output(case):
    outputs = _table_outputs(case)
    (got,) = evaluate(case, (loaded(case.name), outputs))
    io = reference(case.name)
    for output in outputs:
        want = output.reference(io)
        assert got[output.name].dtype == np.float32 and got[output.name].shape == want.shape, output.name
        assert max_diff(got[output.name], want) <= output.tol, output.name


@pytest.mark.slow_variants
@_cases("bfloat16")
def test_bfloat16_compute_stays_within_5e_2(case):
    outputs = tuple(o for o in _table_outputs(case) if o.name in case.bfloat16)
    (got,) = evaluate(case, (loaded(case.name, "bfloat16"), outputs))
    for output in outputs:
        assert max_diff(got[output.name], output.reference(reference(case.name))) <= 5e-2, output.name


@pytest.mark.parametrize("case, other", _each("also_from"))
def test_the_same_weights_in_another_file_convert_to_the_same_params(case, other, tmp_path):
    dst = str(tmp_path / "out")
    status, _ = cli_in_process(*case.convert_args(dst, src=other))
    assert status == 0
    first = converted(case.name).dst
    assert model_dir.read_meta(dst)["model_config"] == model_dir.read_meta(first)["model_config"]
    ours, theirs = model_dir.read_params(dst), model_dir.read_params(first)
    assert ours.keys() == theirs.keys() and all(np.array_equal(ours[k], theirs[k]) for k in ours)


@pytest.mark.slow  # a subprocess: the one check of the entry point exactly as a user runs it
def test_the_command_run_as_a_user_writes_what_its_main_writes(tmp_path):
    case = next(c for c in CASES if c.name == "umt_dev_native")  # --model_config as JSON text, a .pth
    dst = str(tmp_path / "out")
    done = cli(*case.convert_args(dst))
    assert done.returncode == 0, done.stderr[-2000:]
    ours = converted(case.name)
    assert done.stdout == ours.stdout.replace(ours.dst, dst)
    mine, theirs = model_dir.read_params(dst), model_dir.read_params(ours.dst)
    assert mine.keys() == theirs.keys() and all(np.array_equal(mine[k], theirs[k]) for k in mine)


# --------------------------------------------------------------------------------------------- --verify


@by_case
def test_verify_counts_every_tensor_and_names_a_changed_one(case, tmp_path):
    dst = converted(case.name).dst
    status, out = cli_in_process("--verify", "--src", case.src, "--dst", dst)
    assert status == 0 and out.startswith(f"OK: {case.verify_tensors} tensors of {case.src} equal "), out
    assert "sha256 matches" in out
    source = read_source(case)
    source.tensors[case.verify_edit].flat[0] += 1
    edited = write_source(case, str(tmp_path / "edited"), source)
    status, out = cli_in_process("--verify", "--src", edited, "--dst", dst)
    assert status == 1 and out.startswith("MISMATCH") and case.verify_message in out, out


# ----------------------------------------------------------------------------- frame counts and sizes


@pytest.mark.slow_variants
@pytest.mark.parametrize("case, frames", _each("frame_counts", "frames"))
def test_other_frame_counts_run_by_the_family_rule(case, frames):
    assert models.load(converted(case.name).dst, num_frames=frames)[1].num_frames == frames
    probe = _features_of("clip")
    outputs = tuple(o for o in case.all_outputs() if o.frames == frames)
    video = clip(case, frames)
    got, own = evaluate(
        case,
        (loaded(case.name, num_frames=frames), (probe, *outputs)),
        (loaded(case.name), (probe,)),
        extra={"clip": video},
    )
    # The count a model is loaded for sets its tables, not its result on a clip it runs either way.
    assert got[probe.name].shape == own[probe.name].shape == (len(video), own[probe.name].shape[1])
    assert np.isfinite(own[probe.name]).all() and max_diff(got[probe.name], own[probe.name]) <= 1e-5
    io = reference(case.name)
    for output in outputs:
        want = output.reference(io)
        assert got[output.name].shape == want.shape, output.name
        assert max_diff(got[output.name], want) <= output.tol, output.name


@pytest.mark.slow_variants
@pytest.mark.parametrize("case, size", _each("sizes", "sizes"))
def test_other_frame_sizes_run(case, size):
    model = loaded(case.name)
    probe = _features_of("clip")
    got = evaluate(case, (model, (probe,)), extra={"clip": clip(case, size=size)})[0][probe.name]
    video = jnp.asarray(reference(case.name)[case.video])
    width = nnx.eval_shape(lambda: model.features(video)).shape[1]  # traced, not run
    assert got.shape == (1, width) and np.isfinite(got).all()


@pytest.mark.parametrize("case, refusal", _each("refusals"))
def test_clips_it_cannot_run_are_refused_with_the_reason(case, refusal):
    with pytest.raises(ValueError, match=refusal.message):
        loaded(case.name).features(jnp.asarray(clip(case, refusal.frames, refusal.size)))
    if refusal.load_message:
        with pytest.raises(ValueError, match=refusal.load_message):
            models.load(converted(case.name).dst, num_frames=refusal.frames)


# ----------------------------------------------------------------------------------- damaged checkpoints


@pytest.mark.parametrize(
    "case, damage",
    [pytest.param(c, d, id=f"{c}-{d.kind}-{d.key}", marks=_marks(c)) for c in CASES for d in c.damages],
)
def test_a_damaged_checkpoint_is_refused_naming_the_key(case, damage, tmp_path):
    source = read_source(case)
    original = source.tensors.get(damage.key)
    assert (original is None) == (damage.kind == "unexpected"), "the table's damage does not fit the file"
    if damage.value is None:
        del source.tensors[damage.key]
    else:
        source.tensors[damage.key] = damage.value
    src = write_source(case, str(tmp_path / "damaged"), source)
    dst = tmp_path / "out"
    with pytest.raises(damage.error, match=damage.expected_message(original)) as refused:
        cli_in_process(*case.convert_args(str(dst), src=src))
    assert refused.type is damage.error
    # Nothing written, not even a half-written folder beside it.
    assert not dst.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".out")]
