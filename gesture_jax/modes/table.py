"""Mode ``table``: several experiment files run as one, their rows collected into one report.

Each entry of ``config.table.rows`` is an experiment reference ``path/to/file.py[:arg]``, run with its own
mode into ``<workdir>/rows/<name>``, with the table's ``data`` block and one shared feature cache (so a
gallery that several rows share, such as the same encoder's synthetic train split, is extracted once).
The combined results.md prints reported numbers (``config.table.reported``) beside ours. A row that
fails is logged and listed; the others still run, and the mode fails at the end.
"""

from __future__ import annotations

import importlib
import logging
import os
import traceback
from typing import Any

import ml_collections

from gesture_jax import config_lib, parallel, report, reported
from gesture_jax import workdir as workdir_lib


def row_name(reference: str) -> str:
    """``configs/paper/umt_b16_ft_k710.py:air`` → ``umt_b16_ft_k710:air``; the default arg adds nothing."""
    path, _, arg = reference.partition(":")
    name = os.path.splitext(os.path.basename(path))[0]
    return f"{name}:{arg}" if arg else name


def run(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
    values, source = reported.get(config.table.reported)
    cache_dir = config.extract.cache_dir or os.path.join(workdir, "features")
    rows, failures = [], []
    for reference in config.table.rows:
        name = row_name(reference)
        logging.info("table row %s: %s", name, reference)
        try:
            row_config = config_lib.load_file(reference)
            with row_config.unlocked():
                row_config.data = ml_collections.ConfigDict(config.data.to_dict())
                row_config.extract.cache_dir = cache_dir
            mode = importlib.import_module(f"gesture_jax.modes.{row_config.mode}")
            results = mode.run(row_config, os.path.join(workdir, "rows", name))
        except Exception as error:  # one missing checkpoint or dataset must not lose the other rows
            if not config.table.keep_going:
                raise
            logging.error("table row %s failed: %s\n%s", name, error, traceback.format_exc())
            failures.append(f"{name}: {type(error).__name__}: {error}")
            continue
        rows += [{**r, "row": name} for r in results]

    report.publish(workdir, rows, title=config.table.title, reported=values, reported_source=source)
    if failures and parallel.is_main_process():
        path = os.path.join(workdir, report.RESULTS_MD)
        text = workdir_lib.read_text(path)
        workdir_lib.write_text(path, text + "\n## Failed rows\n\n" + "".join(f"- {f}\n" for f in failures))
    if failures:
        raise RuntimeError(
            f"{len(failures)} of {len(config.table.rows)} table rows failed:\n" + "\n".join(failures)
        )
    return rows
