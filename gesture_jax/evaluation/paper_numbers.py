"""Numbers reported for the study, to print beside ours. UNVERIFIED: see the source of each table.

The paper's own tables (arXiv 2410.02152) were not available from a confirmed source; these values were
attributed to it by a machine-generated literature summary and several are likely extraction errors
(the identical 49.4 in most real-gallery cells looks copied down the column).
"""

from __future__ import annotations

SUMMARY_SOURCE = (
    "machine-generated summary of arXiv 2410.02152 (unverified: the paper's tables were not checked)"
)

_SYN, _REAL = "rocog_v2/syn_ground:train", "rocog_v2/real_ground:train"


def _ground(synthetic: float, real: float) -> dict[str, float]:
    return {_SYN: synthetic, _REAL: real}


# KNN accuracy (%) on real ground test videos, by paper row (config file name) and gallery split.
PAPER_KNN_GROUND = {
    "umt_b16_pt_k710": _ground(18.2, 31.2),
    "viclip_b16": _ground(19.2, 40.4),
    "umt_b16_ft_k710": _ground(42.4, 49.4),
    "umt_b16_ft_k710_k400": _ground(38.4, 49.4),
    "umt_b16_ft_k710_k600": _ground(33.3, 49.4),
    "umt_b16_ft_k710_k700": _ground(35.4, 49.4),
    "videomae_b16_hybrid_ft_k710": _ground(32.3, 49.4),
    "videomae_b16_hybrid_ft_ssv2": _ground(43.4, 49.4),
    "videomae_l16_hybrid_ft_k710": _ground(32.3, 49.4),
}

TABLES = {"paper_knn_ground": (PAPER_KNN_GROUND, SUMMARY_SOURCE)}


def get(name: str) -> tuple[dict[str, dict[str, float]], str]:
    """(row → gallery → accuracy %, source) of a reported table; "" gives no table."""
    if not name:
        return {}, ""
    if name not in TABLES:
        raise ValueError(f"unknown reported table {name!r}; known: {sorted(TABLES)}")
    return TABLES[name]
