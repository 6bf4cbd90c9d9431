r"""The toy runs' numbers as a net under refactors: run every toy experiment, then compare two recordings.

    python scripts/regress.py record DIR [--only demo,demo_smoke]   # each run into DIR/<name>
    python scripts/regress.py compare OLD NEW                        # exit 1 on any difference

`record` runs each experiment of `RUNS` through the real entry point (one process, the default devices)
with one shared data folder, so the toy datasets are built once. `compare` reads every JSON file a run
writes (results.json, domain_gap.json, real_equivalent.json, final.json, model.json), the prediction
CSVs and results.md (byte for byte), and reports each value that differs: rows are matched by id,
comparisons by their (a, b) pair. Numbers must agree exactly, except McNemar p-values, which may move
by a few ulps (`P_VALUE_RTOL`): they are sums of many small terms whose order is an implementation
detail.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import subprocess
import sys
import time

RUNS = {
    "demo": "configs/demo.py",
    "demo_smoke": "configs/demo.py:smoke",
    "diagnose": "configs/diagnose/demo.py",
    "curves": "configs/curves/demo.py",
    "finetune": "configs/demo_finetune.py",
    "finetune_smoke": "configs/demo_finetune.py:smoke",
    "unseen": "configs/demo_finetune.py:unseen",
    "unseen_smoke": "configs/demo_finetune.py:unseen_smoke",
    "zeroshot": "configs/zeroshot/demo.py",
    "zeroshot_smoke": "configs/zeroshot/demo.py:smoke",
    "pretrain_smoke": "configs/toy_pretrain.py:smoke",
}
JSON_FILES = ("results.json", "domain_gap.json", "real_equivalent.json", "final.json", "model.json")
P_VALUE_RTOL = 1e-12
# Fields that name where a file lies or when it was made, not what was measured.
IGNORED = {"predictions_csv", "created", "workdir", "source", "sha256", "converted_at"}


def record(out: str, only: list[str] | None) -> None:
    data = os.path.join(out, "data")
    env = dict(os.environ)  # the zero-shot demo's CLIP merges file: the package's own copy
    for name, config in RUNS.items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        cmd = [
            sys.executable,
            "-m",
            "gesture_jax.main",
            "--config",
            config,
            "--workdir",
            os.path.join(out, name),
        ]
        cmd.append(f"--config.data.data_dir={data}")
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if result.returncode:
            sys.exit(f"{config} failed:\n{result.stderr[-4000:]}")
        print(f"{name:16s} {config:40s} {time.perf_counter() - start:6.1f} s", flush=True)


def _keyed(items: list, path: str):
    """Rows by id and comparisons by pair, so that a reordering is not a difference but a change of set is."""
    if items and all(isinstance(x, dict) and "id" in x for x in items):
        return {x["id"]: x for x in items}
    if items and all(isinstance(x, dict) and {"a", "b"} <= set(x) for x in items):
        return {f"{x['a']} vs {x['b']} ({x.get('queries', '')}, {x.get('pair', '')})": x for x in items}
    return None


def diff(old, new, path: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            if key in IGNORED:
                continue
            if key not in new:
                out.append(f"{path}.{key}: missing in new")
            elif key not in old:
                out.append(f"{path}.{key}: new field")
            else:
                diff(old[key], new[key], f"{path}.{key}", out)
    elif isinstance(old, list) and isinstance(new, list):
        ko, kn = _keyed(old, path), _keyed(new, path)
        if ko is not None and kn is not None:
            diff(ko, kn, path, out)
        elif len(old) != len(new):
            out.append(f"{path}: {len(old)} items, now {len(new)}")
        else:
            for i, (a, b) in enumerate(zip(old, new)):
                diff(a, b, f"{path}[{i}]", out)
    elif isinstance(old, float) and isinstance(new, float) and path.endswith("mcnemar_p"):
        if not math.isclose(old, new, rel_tol=P_VALUE_RTOL, abs_tol=0.0):
            out.append(f"{path}: {old!r} -> {new!r}")
    elif old != new and not (isinstance(old, float) and math.isnan(old) and math.isnan(new)):
        out.append(f"{path}: {old!r} -> {new!r}")


def compare(old_dir: str, new_dir: str) -> int:
    problems: list[str] = []
    for name in RUNS:
        a, b = os.path.join(old_dir, name), os.path.join(new_dir, name)
        if not os.path.isdir(a):
            continue
        if not os.path.isdir(b):
            problems.append(f"{name}: not recorded in {new_dir}")
            continue
        checked = 0
        for pattern in JSON_FILES:
            for fa in glob.glob(os.path.join(a, "**", pattern), recursive=True):
                rel = os.path.relpath(fa, a)
                fb = os.path.join(b, rel)
                if "/features/" in fa or "/checkpoints/" in fa:
                    continue
                if not os.path.exists(fb):
                    problems.append(f"{name}/{rel}: missing in new")
                    continue
                with open(fa) as f, open(fb) as g:
                    diff(json.load(f), json.load(g), f"{name}/{rel}", problems)
                checked += 1
        csvs_a = {os.path.basename(p) for p in glob.glob(os.path.join(a, "*.csv"))} | {"results.md"}
        csvs_b = {os.path.basename(p) for p in glob.glob(os.path.join(b, "*.csv"))} | {"results.md"}
        csvs_a = {c for c in csvs_a if os.path.exists(os.path.join(a, c))}
        csvs_b = {c for c in csvs_b if os.path.exists(os.path.join(b, c))}
        for missing in sorted(csvs_a - csvs_b):
            problems.append(f"{name}/{missing}: missing in new")
        for extra in sorted(csvs_b - csvs_a):
            problems.append(f"{name}/{extra}: new file")
        for csv in sorted(csvs_a & csvs_b):
            with open(os.path.join(a, csv), "rb") as f, open(os.path.join(b, csv), "rb") as g:
                if f.read() != g.read():
                    problems.append(f"{name}/{csv}: contents differ")
        print(f"{name:16s} {checked} JSON files, {len(csvs_a & csvs_b)} CSV and Markdown files compared")
    for p in problems:
        print("DIFF", p)
    print("identical" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out")
    rec.add_argument("--only", default="")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("old")
    cmp_.add_argument("new")
    args = parser.parse_args()
    if args.command == "record":
        record(args.out, [x for x in args.only.split(",") if x])
    else:
        sys.exit(compare(args.old, args.new))


if __name__ == "__main__":
    main()
