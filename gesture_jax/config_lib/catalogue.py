"""The RoCoG-v2 experiments' encoders, each once: the paper's rows and the zero-shot text towers.

An experiment file of ``configs/`` picks one by its ``:arg`` (``configs/paper/knn.py:viclip_b16``), so
adding an encoder to the study is one entry here, not a new file per experiment kind. `moved` names the
experiment that replaced each per-encoder file of earlier versions.
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class PaperRow:
    """One row of the paper's KNN table: which registered encoder, converted from which official file."""

    encoder: str  # a name of the model registry
    family: str  # `python -m gesture_jax.convert --family`
    source: str  # the official file it is converted from (the README's checkpoint catalogue)
    about: str

    def checkpoint(self, row: str) -> str:
        return f"checkpoints/{row}"


# In the order of the paper's table. The convert command of each: python -m gesture_jax.convert
# --family <family> --variant <encoder> --src <source> --dst checkpoints/<row>.
PAPER_ROWS = {
    "umt_b16_pt_k710": PaperRow(
        "umt-b16", "umt", "b16_ptk710_f8_res224.pth", "UMT ViT-B/16 pre-trained on K710 (no fine-tuning)"
    ),
    "viclip_b16": PaperRow(
        "viclip-b16", "viclip", "ViCLIP-B-16-hf/model.safetensors", "ViCLIP ViT-B/16 on InternVid-10M-FLT"
    ),
    "umt_b16_ft_k710": PaperRow(
        "umt-b16", "umt", "b16_ptk710_ftk710_f8_res224.pth", "UMT ViT-B/16 pre-trained and fine-tuned on K710"
    ),
    "umt_b16_ft_k710_k400": PaperRow(
        "umt-b16",
        "umt",
        "b16_ptk710_ftk710_ftk400_f8_res224.pth",
        "UMT ViT-B/16 fine-tuned on K710, then K400",
    ),
    "umt_b16_ft_k710_k600": PaperRow(
        "umt-b16",
        "umt",
        "b16_ptk710_ftk710_ftk600_f8_res224.pth",
        "UMT ViT-B/16 fine-tuned on K710, then K600",
    ),
    "umt_b16_ft_k710_k700": PaperRow(
        "umt-b16",
        "umt",
        "b16_ptk710_ftk710_ftk700_f8_res224.pth",
        "UMT ViT-B/16 fine-tuned on K710, then K700",
    ),
    "videomae_b16_hybrid_ft_k710": PaperRow(
        "videomae-b16",
        "videomae_v1",
        "vit_b_hybrid_pt_800e_k710_ft.pth",
        "VideoMAE ViT-B/16, UnlabeledHybrid pre-training (v1 code), fine-tuned on K710",
    ),
    "videomae_b16_hybrid_ft_ssv2": PaperRow(
        "videomae-b16",
        "videomae_v1",
        "vit_b_hybrid_pt_800e_ssv2_ft.pth",
        "VideoMAE ViT-B/16, UnlabeledHybrid pre-training, fine-tuned on SSv2",
    ),
    # HF OpenGVLab/VideoMAE2 mae-l/ holds only this file (no vit_l_hybrid_pt_800e_k710_ft.pth). Whether it is
    # the K710 fine-tune is unconfirmed: model.json's model_config.num_classes says 710 for a K710 head.
    "videomae_l16_hybrid_ft_k710": PaperRow(
        "videomae-l16",
        "videomae_v1",
        "mae-l/pytorch_model.bin",
        "VideoMAE ViT-L/16, UnlabeledHybrid pre-training, fine-tuned on K710 (unconfirmed)",
    ),
}


@dataclasses.dataclass(frozen=True)
class ZeroShotEncoder:
    """A registered encoder with a text tower, where its converted checkpoint and its vocabulary lie."""

    checkpoint: str
    vocab_path: str = ""  # "" = the family's own lookup (CLIP's merges file, the folder's tokenizer files)


# One directory per set of weights: the paper's ViCLIP-B/16 is the paper row's (checkpoints/viclip_b16);
# weights of no paper row lie under the registered encoder's name.
ZEROSHOT_ENCODERS = {
    "viclip-b16": ZeroShotEncoder(PAPER_ROWS["viclip_b16"].checkpoint("viclip_b16")),
    "viclip-l14": ZeroShotEncoder("checkpoints/viclip-l14"),
    "siglip2-b16": ZeroShotEncoder("checkpoints/siglip2-b16"),
    "siglip2-so400m14": ZeroShotEncoder("checkpoints/siglip2-so400m14"),
    # T5's c4_en SentencePiece model (gs://t5-data/vocabs/cc_en.32000/sentencepiece.model), as in
    # VideoPrism's colab.
    "videoprism-lvt-b": ZeroShotEncoder(
        "checkpoints/videoprism-lvt-b", "checkpoints/c4_en.sentencepiece.model"
    ),
    "videoprism-lvt-l": ZeroShotEncoder(
        "checkpoints/videoprism-lvt-l", "checkpoints/c4_en.sentencepiece.model"
    ),
}

# Per-encoder files of earlier versions -> the experiment file whose :arg picks the encoder now.
_MOVED_FOLDERS = {
    "configs/paper": ("configs/paper/knn.py", PAPER_ROWS),
    "configs/diagnose": ("configs/diagnose/rocog_v2.py", PAPER_ROWS),
    "configs/finetune": ("configs/finetune/rocog_v2.py", PAPER_ROWS),
}


def pick(
    arg: str | None, choices, *, file: str, default: str, options: tuple[str, ...] = ()
) -> tuple[str, str]:
    """``"<choice>[,<option>]"`` -> (choice, option), with errors naming the file and what it takes."""
    name, _, option = (arg or default).partition(",")
    if name not in choices:
        raise ValueError(f"{file} takes one of {', '.join(choices)}, got {name!r}")
    if option and option not in options:
        raise ValueError(
            f"{file}:{name} takes {' or '.join(options) or 'no option'} after ',', got {option!r}"
        )
    return name, option


def pick_row(arg: str | None, *, file: str, options: tuple[str, ...] = ()) -> tuple[str, str]:
    """``"<row>[,<option>]"`` -> (a row of `PAPER_ROWS`, default umt_b16_ft_k710; the option or "")."""
    return pick(arg, PAPER_ROWS, file=file, default="umt_b16_ft_k710", options=options)


def moved(reference: str) -> str | None:
    """The experiment that replaced the per-encoder file `reference` names, or None."""
    path, _, arg = reference.partition(":")
    folder, file = os.path.split(os.path.normpath(path))
    stem = file.removesuffix(".py")
    if folder in _MOVED_FOLDERS and stem in _MOVED_FOLDERS[folder][1]:
        return f"{_MOVED_FOLDERS[folder][0]}:{stem}" + (f",{arg}" if arg else "")
    if folder == "configs/zeroshot":
        name = stem.replace("_", "-")
        if name in ZEROSHOT_ENCODERS:
            return f"configs/zeroshot/rocog_v2.py:{name}"
    return None
