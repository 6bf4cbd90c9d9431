"""Every mode's shrunk demo as one case of the mode conformance kit (tests/test_mode_conformance.py),
and the runs of it that several tests inspect, made once per test session.

A case's reference run is made here, in the test process, on its 8 fake devices (the mode's `run`, as
`main` calls it): in-process runs reuse this process's compiled programs, so they cost seconds where a
fresh `python -m gesture_jax.main` costs tens. The runs that must be separate processes (one device,
two processes of four) start the entry point as a user does (`main_runs`).
"""

from __future__ import annotations

import dataclasses
import glob
import gzip
import os
import subprocess

from main_runs import run_main

from gesture_jax import config_lib


@dataclasses.dataclass(frozen=True)
class ModeCase:
    """A mode's smoke config and what its runs must reproduce."""

    config: str  # configs/<file>.py[:arg]
    overrides: tuple[tuple[str, object], ...] = ()  # dotted config field, value
    # Written files compared across runs besides results.json and the per-row predictions files.
    more_outputs: tuple[str, ...] = ()
    # Fields that make the one-device run the same experiment: training's global batch is
    # batch_per_device × devices, so one device takes 8× the batch.
    one_device: tuple[tuple[str, object], ...] = ()
    # Outputs of runs with other device counts that agree only to float rounding (fine-tuned weights:
    # one device sums a batch's gradients in another order than eight), left out of the 1 = 8 check.
    rounding_only: tuple[str, ...] = ()
    needs_vocab: bool = False  # zero-shot with the toy ViCLIP: a CLIP-format merges file
    # The one-device run starts from an empty data dir and builds the toy sets it needs, as `make demo`.
    builds_data: bool = False
    # The two-process run's toy sets: the session's ("given"), or built from empty: into one data dir both
    # processes see ("shared": process 0 builds while process 1 waits) or one per process ("per_host", as
    # the disks of TPU workers).
    two_process_data: str = "given"
    # How the two processes find each other: the coordinator flags ("flags") or srun's variables ("slurm",
    # which `parallel.initialize` detects).
    launcher: str = "flags"


# Four checkpoints, one more than training keeps (the latest 3, and the best on validation): the kit's
# one-device run is also the reference of the killed-and-resumed run (tests/test_finetune.py). Global
# batches of 16 clips (the config's 64 made each run ~40% slower and tests nothing more).
FINETUNE_STEPS = (
    ("finetune.num_steps", 8),
    ("finetune.checkpoint_every", 2),
    ("finetune.batch_per_device", 2),
)

CASES = {
    "knn": ModeCase("configs/demo.py:smoke", builds_data=True, two_process_data="per_host", launcher="slurm"),
    "curves": ModeCase("configs/curves/demo.py:smoke", two_process_data="shared"),
    "diagnose": ModeCase(
        "configs/diagnose/demo.py:smoke",
        overrides=(("diagnose.num_permutations", 20),),
        more_outputs=("domain_gap.json", "attribution.csv"),
    ),
    "zeroshot": ModeCase("configs/zeroshot/demo.py:smoke", needs_vocab=True),
    # The token probes alone (mode knn with the attentive evaluator): tokens extracted on 8 devices, 1, or
    # two processes, the grids trained on one device each, the same rows. (The probes' weights agree only
    # to float rounding: the CPU backend compiles a gradient's reductions for the process's device count,
    # measured 5e-9 apart on one step; the choices and predictions they make are the same.)
    "attentive": ModeCase(
        "configs/probes/attentive_demo.py:smoke",
        overrides=(("evals", ("attentive",)), ("attentive.epochs", 2)),
    ),
    "finetune": ModeCase(
        "configs/demo_finetune.py:smoke",
        overrides=FINETUNE_STEPS,
        more_outputs=("final.json",),
        one_device=(("finetune.batch_per_device", 16),),
        rounding_only=("final.json",),
    ),
}


def write_small_merges(path) -> str:
    """A CLIP-format merges file with a few merges: ids stay far below 49408, so toy-viclip embeds them."""
    merges = ["a d", "v a", "h a", "e n", "o n", "r e", "i n", "t h"]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(["#version: 0.2", *merges]) + "\n")
    return str(path)


def overrides(case: ModeCase, data_dir: str, scratch) -> dict[str, object]:
    """The case's overrides for a run reading toy sets from `data_dir` (`scratch`: a folder for files a
    run needs, such as the merges file)."""
    fields = {"data.data_dir": data_dir, **dict(case.overrides)}
    if case.needs_vocab:
        fields["zeroshot.vocab_path"] = write_small_merges(os.path.join(scratch, "merges.txt.gz"))
    return fields


def as_flags(fields: dict[str, object]) -> tuple[str, ...]:
    """`--config.a.b=v` for each field, as a user types them."""
    return tuple(f"--config.{k}={v}" for k, v in fields.items())


def load_config(case: ModeCase, fields: dict[str, object]):
    """The case's config with `fields` set, as `--config.<field>=<value>` sets them."""
    config = config_lib.load_file(case.config)
    with config.unlocked():
        config.update_from_flattened_dict(fields)
    return config


def run_here(config, workdir) -> list:
    """The config's mode run in this process (8 devices), as `main` runs it after parsing its flags:
    the `scoring.Row`s it returns."""
    from gesture_jax import modes

    return modes.get(config.mode).run(config, str(workdir))


def run_one_device(case: ModeCase, workdir, fields: dict[str, object]) -> subprocess.CompletedProcess:
    """The case as a user runs it on one device (`python -m gesture_jax.main`); it must succeed."""
    flags = as_flags({**fields, **dict(case.one_device)})
    result = run_main(case.config, workdir, *flags, devices=1, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def outputs(workdir, names: tuple[str, ...] = ()) -> dict[str, str]:
    """results.json, every per-row predictions file and `names`, as text."""
    paths = [os.path.join(workdir, "results.json"), *glob.glob(os.path.join(workdir, "predictions_*.csv"))]
    paths += [os.path.join(workdir, n) for n in names]
    return {os.path.basename(p): open(p).read() for p in sorted(paths)}


@dataclasses.dataclass
class Run:
    workdir: str
    fields: dict[str, object]  # the config overrides it ran with
    config: object = None  # in-process runs: the config, and the rows `run` returned
    rows: list | None = None
    stdout: str = ""  # one-device runs: the entry point's output
    stderr: str = ""


class ModeRuns:
    """Each case's reference run (here, 8 devices) and one-device run (a subprocess), made on first use
    and shared by every test of the session; tests that write into a run's workdir copy it first."""

    def __init__(self, data_dir: str, tmp_path_factory):
        self._data_dir, self._tmp = data_dir, tmp_path_factory
        self._reference: dict[str, Run] = {}
        self._one_device: dict[str, Run] = {}

    def fields(self, name: str) -> dict[str, object]:
        return overrides(CASES[name], self._data_dir, str(self._tmp.mktemp(f"{name}_files")))

    def reference(self, name: str) -> Run:
        if name not in self._reference:
            fields = self.fields(name)
            workdir = self._tmp.mktemp(f"{name}_reference")
            config = load_config(CASES[name], fields)
            rows = run_here(config, workdir)
            self._reference[name] = Run(str(workdir), fields, config=config, rows=rows)
        return self._reference[name]

    def one_device(self, name: str) -> Run:
        if name not in self._one_device:
            case = CASES[name]
            fields = self.fields(name)
            if case.builds_data:
                fields["data.data_dir"] = str(self._tmp.mktemp(f"{name}_data"))
            workdir = self._tmp.mktemp(f"{name}_one_device")
            result = run_one_device(case, workdir, fields)
            self._one_device[name] = Run(str(workdir), fields, stdout=result.stdout, stderr=result.stderr)
        return self._one_device[name]
