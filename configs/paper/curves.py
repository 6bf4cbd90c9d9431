r"""Few-shot and mixing curves on RoCoG-v2 ground view for one paper row's encoder (its converted checkpoint).

KNN (k=3, L2) on real ground test videos from 1, 2, 4, 8 or all real ground train videos per class, alone
and added to the synthetic ground train gallery, 5 draws per point; the synthetic gallery alone is the
baseline. The argument names the row (a file of configs/paper/, default umt_b16_ft_k710).

  python -m gesture_jax.main --config configs/paper/curves.py:umt_b16_ft_k710 --workdir workdirs/curves_umt
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    row = config_lib.load_file(f"configs/paper/{arg or 'umt_b16_ft_k710'}.py")
    config = ml_collections.ConfigDict()
    config.mode = "curves"
    config.data = config_lib.data()
    config.encoder = ml_collections.ConfigDict(row.encoder.to_dict())
    config.extract = config_lib.extract(per_device_batch=4)
    config.curves = config_lib.curves()
    return config
