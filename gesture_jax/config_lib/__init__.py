"""What experiment files in ``configs/`` are built from, as one namespace (``config_lib.encoder(...)``).

Split by job: `blocks` (one function per config block, the schema users override), `protocols` (RoCoG-v2's
galleries, queries and held-out classes), `catalogue` (the encoders RoCoG-v2 experiments pick by name),
`presets` (whole RoCoG-v2 experiments for a converted checkpoint) and `files` (loading an
experiment file as ``--config`` does).
"""

from gesture_jax.config_lib.blocks import (  # noqa: F401
    apply_spec_overrides,
    attentive,
    curves,
    data,
    diagnose,
    encoder,
    evals,
    extract,
    finetune,
    knn,
    pretrain,
    spec_overrides,
    training,
    zeroshot,
)
from gesture_jax.config_lib.catalogue import (  # noqa: F401
    PAPER_ROWS,
    ZEROSHOT_ENCODERS,
    moved,
    pick,
    pick_row,
)
from gesture_jax.config_lib.files import as_used, load_file, load_module  # noqa: F401
from gesture_jax.config_lib.presets import (  # noqa: F401
    knn_table,
    paper_diagnose,
    paper_knn_row,
    paper_row,
    paper_zeroshot,
    rocog_finetune,
    toy_experiment,
)
from gesture_jax.config_lib.protocols import (  # noqa: F401
    KNN_PROTOCOLS,
    ROCOG_GROUND_GALLERIES,
    ROCOG_GROUND_QUERIES,
    ROCOG_HELDOUT,
    check_protocol,
)
