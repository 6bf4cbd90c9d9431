"""Mode ``table``: several experiment files run as one, their rows collected into one report.

Each entry of ``config.table.rows`` is an experiment reference ``path/to/file.py[:arg]``, run with its own
mode into ``<workdir>/rows/<name>``, with the table's ``data`` block and one shared feature cache (so a
gallery that several rows share, such as the same encoder's synthetic train split, is extracted once).
The combined results.md prints reported numbers (``config.table.reported``) beside ours. A row that
fails is logged and listed; the others still run, and the mode fails at the end.
"""

from __future__ import annotations

import logging
import os
import traceback

import ml_collections

from gesture_jax import config_lib, modes
from gesture_jax.evaluation import headline, paired_comparisons, paper_numbers, report, scoring
from gesture_jax.infra import parallel


def row_name(reference: str) -> str:
    """A row's name where the table gives none: ``configs/demo.py:smoke`` → ``demo:smoke``."""
    path, _, arg = reference.partition(":")
    name = os.path.splitext(os.path.basename(path))[0]
    return f"{name}:{arg}" if arg else name


def run(config: ml_collections.ConfigDict, workdir: str) -> list[scoring.Row]:
    values, source = paper_numbers.get(config.table.reported)
    cache_dir = config.extract.cache_dir or os.path.join(workdir, "features")
    rows, failures = [], []
    names = tuple(config.table.get("names", ())) or tuple(map(row_name, config.table.rows))
    if len(names) != len(config.table.rows):
        raise ValueError(f"table.names has {len(names)} names for {len(config.table.rows)} table.rows")
    for name, reference in zip(names, config.table.rows):
        logging.info("table row %s: %s", name, reference)
        try:
            row_config = config_lib.load_file(reference)
            with row_config.unlocked():
                row_config.data = ml_collections.ConfigDict(config.data.to_dict())
                row_config.extract.cache_dir = cache_dir
            results = modes.get(row_config.mode).run(row_config, os.path.join(workdir, "rows", name))
        except Exception as error:  # one missing checkpoint or dataset must not lose the other rows
            if not config.table.keep_going:
                raise
            logging.error("table row %s failed: %s\n%s", name, error, traceback.format_exc())
            failures.append(f"{name}: {type(error).__name__}: {error}")
            continue
        rows += [r.with_key(experiment=name) for r in results]

    sections = (
        [("failed rows", "## Failed rows\n\n" + "".join(f"- {f}\n" for f in failures))] if failures else []
    )
    compared = paired_comparisons.comparisons(rows, report.table_label)
    results = report.Results(
        config.table.title,
        rows,
        compared,
        sections=sections,
        reported=values,
        reported_source=source,
        headline=headline.section(rows, compared, ()),
    )
    if parallel.is_main_process():
        report.write(workdir, results)
        print(report.summary(results))
    if failures:
        # A user-facing failure (a missing checkpoint or dataset), after the report of the other rows.
        raise ValueError(
            f"{len(failures)} of {len(config.table.rows)} table rows failed (results.md holds the others):\n"
            + "\n".join(failures)
        )
    return rows
