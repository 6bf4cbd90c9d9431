r"""One row of the paper's KNN table: a paper encoder's frozen features, synthetic vs real gallery.

KNN (k=3, L2) on RoCoG-v2 real test videos with a synthetic and a real train gallery, beside prototypes and
a linear probe. The argument is "<row>[,<protocol>]": a row of `config_lib.PAPER_ROWS` (default
umt_b16_ft_k710) and a protocol of `config_lib.KNN_PROTOCOLS`: "ground" (default, the paper's table),
"air", or "cross" (ground galleries, air test videos). The row's converted checkpoint is expected in
checkpoints/<row>; convert it once from the official file the catalogue names (the README's checkpoint
catalogue says where each is downloaded), e.g.

  python -m gesture_jax.convert --family umt --variant umt-b16 --src b16_ptk710_ftk710_f8_res224.pth \
      --dst checkpoints/umt_b16_ft_k710
  python -m gesture_jax.main --config configs/paper/knn.py:umt_b16_ft_k710 --workdir workdirs/paper/umt_b16_ft_k710
  python -m gesture_jax.main --config configs/paper/knn.py:viclip_b16,air --workdir workdirs/paper/viclip_b16_air

Every row at once, with the reported numbers beside ours: configs/paper/table.py.
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    row, protocol = config_lib.pick_row(
        arg, file="configs/paper/knn.py", options=tuple(config_lib.KNN_PROTOCOLS)
    )
    return config_lib.paper_row(row, protocol or None)
