r"""The paper's whole KNN table: every row of configs/paper/knn.py, reported numbers in adjacent columns.

Runs each row's experiment (its converted checkpoint must exist, see the README's catalogue) with one
shared feature cache, and writes results.md with the numbers a machine-generated summary attributes to
the paper beside ours (unverified; the paper's tables were not available to check). A row whose checkpoint or dataset is missing is
listed as failed; the others still run. The argument picks the protocol for every row: "ground" (default,
with reported numbers), "air" or "cross".

  python -m gesture_jax.main --config configs/paper/table.py --workdir workdirs/paper_table
  python -m gesture_jax.main --config configs/paper/table.py:air --workdir workdirs/paper_table_air
"""

import ml_collections

from gesture_jax import config_lib
from gesture_jax.evaluation import paper_numbers


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    protocol = config_lib.check_protocol(arg)
    suffix = "" if protocol == "ground" else f",{protocol}"
    name = "" if protocol == "ground" else f":{protocol}"
    return config_lib.knn_table(
        {f"{row}{name}": f"configs/paper/knn.py:{row}{suffix}" for row in paper_numbers.PAPER_KNN_GROUND},
        title=f"KNN on RoCoG-v2 ({protocol} protocol), frozen encoders",
        reported="paper_knn_ground" if protocol == "ground" else "",
    )
