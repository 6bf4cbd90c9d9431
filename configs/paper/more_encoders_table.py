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
    protocol = config_lib.check_protocol(arg)
    rows = config_lib.load_module("configs/more_encoders/knn.py").encoders()
    suffix = "" if protocol == "ground" else f",{protocol}"
    return config_lib.knn_table(
        {
            f"{name}{suffix.replace(',', ':')}": f"configs/more_encoders/knn.py:{name}{suffix}"
            for name in rows
        },
        title=f"KNN on RoCoG-v2 ({protocol} protocol), frozen encoders beyond the paper's",
    )
