"""RoCoG-v2's evaluation protocols as configs name them: galleries, queries, held-out classes."""

from __future__ import annotations

# RoCoG-v2 protocols (arXiv 2410.02152; README: RoCoG-v2): real test videos labelled by KNN (k=3, L2) from a
# synthetic train split and, for comparison, from a real train split. "ground" is the paper's table
# (G_S→G_R beside G_R); "air" the same for the air view (A_S→A_R beside A_R); "cross" labels air test
# videos from ground galleries (G_S→A_R beside G_R→A_R).
KNN_PROTOCOLS = {
    "ground": (("rocog_v2/syn_ground:train", "rocog_v2/real_ground:train"), ("rocog_v2/real_ground:test",)),
    "air": (("rocog_v2/syn_air:train", "rocog_v2/real_air:train"), ("rocog_v2/real_air:test",)),
    "cross": (("rocog_v2/syn_ground:train", "rocog_v2/real_ground:train"), ("rocog_v2/real_air:test",)),
}
ROCOG_GROUND_GALLERIES, ROCOG_GROUND_QUERIES = KNN_PROTOCOLS["ground"]


def check_protocol(protocol: str | None) -> str:
    """`protocol` (default "ground") if it is one of `KNN_PROTOCOLS`, else a ValueError naming them."""
    protocol = protocol or "ground"
    if protocol not in KNN_PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {sorted(KNN_PROTOCOLS)}")
    return protocol


# RoCoG-v2 classes held out of fine-tuning in the unseen-class configs (Rally, FollowMe), as in the toy demo:
# one single-arm overhead motion and one pointing motion, so each novel class has seen relatives.
ROCOG_HELDOUT = (2, 5)
