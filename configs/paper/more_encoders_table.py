r"""Every encoder the paper did not have, synthetic vs real gallery, in one report (mode table).

Runs configs/more_encoders/knn.py for each registered V-JEPA 2, VideoPrism, SigLIP 2, DINOv2 and
transformers-format VideoMAE encoder, sharing one feature cache; a row whose converted checkpoint
(checkpoints/<encoder>) or dataset is missing is listed as failed and the others still run. The argument
picks the protocol: "ground" (default), "air" or "cross".

  python -m gesture_jax.main --config configs/paper/more_encoders_table.py --workdir workdirs/more_encoders
  python -m gesture_jax.main --config configs/paper/more_encoders_table.py:air --workdir workdirs/more_encoders_air
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    protocol = arg or "ground"
    if protocol not in config_lib.KNN_PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {sorted(config_lib.KNN_PROTOCOLS)}")
    rows = config_lib.load_module("configs/more_encoders/knn.py").encoders()
    suffix = "" if protocol == "ground" else f",{protocol}"
    config = ml_collections.ConfigDict()
    config.mode = "table"
    config.data = config_lib.data()
    config.extract = config_lib.extract(per_device_batch=4)
    config.table = ml_collections.ConfigDict(
        {
            "rows": tuple(f"configs/more_encoders/knn.py:{name}{suffix}" for name in rows),
            "reported": "",
            "keep_going": True,  # report the rows that ran when others fail
            "title": f"KNN on RoCoG-v2 ({protocol} protocol), frozen encoders beyond the paper's",
        }
    )
    return config
