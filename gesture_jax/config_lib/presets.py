"""Whole RoCoG-v2 experiments built from the blocks: a paper row, the table of rows, fine-tuning, diagnosis
and zero-shot for a converted checkpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import ml_collections

from gesture_jax.config_lib.blocks import (
    MODE_EVALS,
    data,
    diagnose,
    encoder,
    evals,
    extract,
    finetune,
    knn,
    zeroshot,
)
from gesture_jax.config_lib.catalogue import PAPER_ROWS, ZEROSHOT_ENCODERS
from gesture_jax.config_lib.protocols import KNN_PROTOCOLS, ROCOG_HELDOUT, check_protocol


def knn_table(rows: Mapping[str, str], *, title: str, reported: str = "") -> ml_collections.ConfigDict:
    """Mode table over experiment files `rows` (row name -> "<file>[:arg]"), sharing one feature cache and
    reporting the rows that ran when others fail; `reported`: a table of paper_numbers beside ours."""
    config = ml_collections.ConfigDict()
    config.mode = "table"
    config.data = data()
    config.extract = extract(per_device_batch=4)
    config.table = ml_collections.ConfigDict(
        {
            "rows": tuple(rows.values()),
            "names": tuple(rows),  # () = each row named after its file and argument
            "reported": reported,
            "keep_going": True,
            "title": title,
        }
    )
    return config


def paper_knn_row(
    encoder_name: str, checkpoint: str, protocol: str | None = None
) -> ml_collections.ConfigDict:
    """One row of the paper's table: a converted checkpoint, synthetic vs real galleries of a protocol."""
    protocol = check_protocol(protocol)
    galleries, queries = KNN_PROTOCOLS[protocol]
    config = ml_collections.ConfigDict()
    config.mode = "knn"
    config.evals = evals("knn")
    config.data = data()
    config.encoder = encoder(encoder_name, checkpoint=checkpoint)
    config.extract = extract(per_device_batch=4)
    config.knn = knn(galleries=galleries, queries=queries)
    return config


def paper_row(row: str, protocol: str | None = None) -> ml_collections.ConfigDict:
    """`paper_knn_row` for a row of `PAPER_ROWS`, from its converted checkpoint in checkpoints/<row>."""
    return paper_knn_row(PAPER_ROWS[row].encoder, PAPER_ROWS[row].checkpoint(row), protocol)


def rocog_finetune(row: str, arg: str | None) -> ml_collections.ConfigDict:
    """The encoder of paper row `row` fine-tuned on `rocog_v2/syn_ground:train` (best checkpoint on
    `syn_ground:val`) and evaluated on the real ground test videos frozen, with its weights interpolated
    towards the fine-tuned ones (α = 0.25, 0.5, 0.75) and fine-tuned: KNN (the paper's k=3, L2),
    prototypes and a linear probe with the synthetic and the real train gallery, and the head. `arg` "":
    every class in fine-tuning; "unseen": without `ROCOG_HELDOUT`, every row on the seen and the novel
    classes apart, with their harmonic mean and interpolation.png. Hyper-parameters: VideoMAE's
    fine-tuning recipe scaled to a short run on a small training set (a starting point, not tuned on
    RoCoG-v2)."""
    if arg not in (None, "", "unseen"):
        raise ValueError(f"a RoCoG-v2 fine-tuning config takes no argument or 'unseen', got {arg!r}")
    config = ml_collections.ConfigDict()
    config.mode = "finetune"
    config.evals = evals("finetune")
    config.seed = 0
    config.data = data()
    config.encoder = encoder(PAPER_ROWS[row].encoder, checkpoint=PAPER_ROWS[row].checkpoint(row))
    config.extract = extract(per_device_batch=4)
    config.finetune = finetune(
        num_steps=3000,
        batch_per_device=4,
        learning_rate=2.5e-4,
        warmup_steps=300,
        checkpoint_every=500,
        heldout_classes=ROCOG_HELDOUT if arg == "unseen" else (),
    )
    return config


def paper_diagnose(row: str, protocol: str | None) -> ml_collections.ConfigDict:
    """Mode diagnose on RoCoG-v2 for a paper row's encoder (`PAPER_ROWS`), under one of
    `KNN_PROTOCOLS`: its synthetic and real galleries and real test queries; curation is chosen on the
    query view's real train split (its val_tsonly is a subset of it)."""
    protocol = check_protocol(protocol)
    (synthetic, real), (queries,) = KNN_PROTOCOLS[protocol]
    config = ml_collections.ConfigDict()
    config.mode = "diagnose"
    config.evals = evals("diagnose")
    config.data = data()
    config.encoder = encoder(PAPER_ROWS[row].encoder, checkpoint=PAPER_ROWS[row].checkpoint(row))
    config.extract = extract(per_device_batch=4)
    config.diagnose = diagnose(
        synthetic=synthetic,
        real_gallery=real,
        queries=queries,
        selection=queries.replace(":test", ":train"),
    )
    return config


def paper_zeroshot(name: str) -> ml_collections.ConfigDict:
    """The paper's method B with an encoder of `ZEROSHOT_ENCODERS`: every prompt set, real ground test
    videos."""
    config = ml_collections.ConfigDict()
    config.mode = "zeroshot"
    config.evals = evals("zeroshot")
    config.data = data()
    config.encoder = encoder(name, checkpoint=ZEROSHOT_ENCODERS[name].checkpoint)
    config.extract = extract(per_device_batch=8)
    config.zeroshot = zeroshot()
    config.zeroshot.vocab_path = ZEROSHOT_ENCODERS[name].vocab_path
    return config


@dataclasses.dataclass(frozen=True)
class Toy:
    """The toy world's split names at one size: the small sets (the smoke variants) or the full ones."""

    small: bool

    def gestures(self, look: str, split: str) -> str:
        """``toy_gestures/<look>[_small]:<split>``, `look` "synthetic" or "real"."""
        return f"toy_gestures/{look}{'_small' if self.small else ''}:{split}"

    def motions(self, split: str) -> str:
        """The pre-training corpus: ``toy_motions/neutral[_small]:<split>``."""
        return f"toy_motions/neutral{'_small' if self.small else ''}:{split}"


def toy_experiment(
    mode: str,
    *,
    file: str,
    arg: str | None,
    variants: tuple[str, ...] = ("smoke",),
    encoder_name: str = "toy-vit-pretrained",
    seed: int | None = None,
) -> tuple[ml_collections.ConfigDict, Toy]:
    """What every toy demo starts from: `mode` on the toy datasets (built when missing) with `encoder_name`,
    and the split names at the size `arg` picks (a variant with "smoke" in its name: the small sets)."""
    if arg not in (None, "", *variants):
        raise ValueError(f"{file} takes no argument or one of {', '.join(variants)}, got {arg!r}")
    config = ml_collections.ConfigDict()
    config.mode = mode
    if mode in MODE_EVALS:
        config.evals = evals(mode)
    if seed is not None:
        config.seed = seed
    config.data = data(build_if_missing=True)
    config.encoder = encoder(encoder_name)
    config.extract = extract(per_device_batch=16, chunk_batches=20)
    return config, Toy(small="smoke" in (arg or ""))
