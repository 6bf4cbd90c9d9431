"""transformers' separate query/key/value projections → the one fused qkv projection our attention has.

transformers stores ``<stem>.query.weight``, ``<stem>.key.weight`` and ``<stem>.value.weight`` (and their
biases where it has them); `layers.Attention` has one ``qkv`` Linear whose output is [q | k | v]. A family's
``prepare_checkpoint`` calls `fuse` so its key map sees ``<stem>.qkv.weight`` (rows stacked q, k, v, the
torch layout ``[3D, D]``) and ``<stem>.qkv.bias``. Concatenation copies values exactly, so ``--verify``
still compares bit for bit. An incomplete triple is an error naming the tensors the checkpoint lacks.
"""

from __future__ import annotations

import re

import numpy as np

PARTS = ("query", "key", "value")


def fuse(tensors: dict[str, np.ndarray], stem: str, kinds: tuple[str, ...] = ("weight", "bias")) -> dict:
    """`tensors` with every complete query/key/value triple under a stem matching the regex `stem` (e.g.
    ``.*attention\\.attention``) replaced by ``<stem>.qkv.<kind>``, for each kind in `kinds`.

    Raises `ValueError` naming the missing members of an incomplete triple, or the shapes of one whose
    members differ. Names matching none of the triples are kept as they are.
    """
    pattern = re.compile(rf"(?P<stem>{stem})\.(?P<part>{'|'.join(PARTS)})\.(?P<kind>{'|'.join(kinds)})")
    groups: dict[tuple[str, str], dict[str, str]] = {}
    for name in tensors:
        match = pattern.fullmatch(name)
        if match:
            groups.setdefault((match["stem"], match["kind"]), {})[match["part"]] = name
    out = dict(tensors)
    missing, mismatched = [], []
    for (prefix, kind), found in sorted(groups.items()):
        lacking = [f"{prefix}.{p}.{kind}" for p in PARTS if p not in found]
        if lacking:
            missing += lacking
            continue
        arrays = [tensors[found[p]] for p in PARTS]
        if len({a.shape for a in arrays}) != 1 or len({a.dtype for a in arrays}) != 1:
            mismatched.append(
                f"{prefix}.{{query,key,value}}.{kind}: "
                + ", ".join(f"{p} {a.dtype}{list(a.shape)}" for p, a in zip(PARTS, arrays))
            )
            continue
        for p in PARTS:
            del out[found[p]]
        out[f"{prefix}.qkv.{kind}"] = np.concatenate(arrays, axis=0)
    problems = []
    if missing:
        problems.append(
            f"missing keys: {sorted(missing)} (query, key and value are fused into one projection)"
        )
    if mismatched:
        problems.append("query/key/value tensors that differ in shape or dtype: " + "; ".join(mismatched))
    if problems:
        raise ValueError("the checkpoint's attention projections do not fit: " + " | ".join(problems))
    return out
