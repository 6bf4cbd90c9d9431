r"""Few-shot and mixing curves on RoCoG-v2 ground view for one paper row's encoder (its converted checkpoint).

KNN (k=3, L2) on real ground test videos from 1, 2, 4, 8 or all real ground train videos per class, alone
and added to the synthetic ground train gallery, 5 draws per point; the synthetic gallery alone is the
baseline. The argument names the row (of config_lib.PAPER_ROWS, default umt_b16_ft_k710).

  python -m gesture_jax.main --config configs/paper/curves.py:umt_b16_ft_k710 --workdir workdirs/curves_umt
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    row, _ = config_lib.pick_row(arg, file="configs/paper/curves.py")
    config = ml_collections.ConfigDict()
    config.mode = "curves"
    config.evals = config_lib.evals("curves")
    config.data = config_lib.data()
    config.encoder = config_lib.encoder(config_lib.PAPER_ROWS[row].encoder, checkpoint=f"checkpoints/{row}")
    config.extract = config_lib.extract(per_device_batch=4)
    config.curves = config_lib.curves()
    return config
