"""Checks a converted directory against its source checkpoint: the same tensors, bit for bit.

Both sides are read again from disk. Each source tensor goes through the family's key map (prefixes,
transform) and the float32 cast, all exact, and must equal its converted parameter byte for byte. The
key sets must match: no converted parameter without a source tensor, no source tensor unaccounted for
except those ``model.json`` records as dropped (by rule or ``--drop_head``). The source file's sha256 must
equal the recorded one. Family and state key come from ``model.json``.
"""

from __future__ import annotations

import os

import numpy as np

from gesture_jax import models
from gesture_jax.models import model_dir
from gesture_jax.ports import convert, sources

_SHOWN = 5  # differing tensors named in the verdict


def verify(src: str, dst: str) -> tuple[bool, str]:
    """(whether `dst` holds exactly the tensors of `src`, a one-line verdict)."""
    meta = model_dir.read_meta(dst)
    family, source = meta["family"], meta["source"]
    problems = []
    fmt = source.get("format", "torch")  # written before model.json recorded it: a torch file
    read = sources.read(fmt, src, source.get("state_key"))
    recorded, digest = source.get("sha256"), sources.digest(read.files)
    if recorded is None:  # written before model.json recorded it
        sha_note = "sha256 not recorded in model.json"
    elif recorded != digest:
        sha_note = "sha256 differs"
        problems.append(f"the file's sha256 is {digest}, model.json records {recorded}")
    else:
        sha_note = "sha256 matches"

    sd = convert.prepared(models.family_module(family), read.tensors)
    stripped = convert.strip_prefixes(family, sd, src)
    keymap = convert.keymap_of(family)
    dropped = set(source.get("dropped_keys", ()))
    wanted, unaccounted = {}, []  # wanted: {our path: (key in the file, value as convert stores it)}
    for name, (key, value) in stripped.items():
        if key in dropped:
            continue
        target = keymap.to_ours(name)
        if target is None:
            unaccounted.append(key)
            continue
        path, transform = target
        wanted[path] = (key, convert.stored(transform(value)))
    params = model_dir.read_params(dst)

    not_in_file = sorted(dropped - {key for key, _ in stripped.values()})
    missing = sorted(wanted[p][0] for p in wanted if p not in params)
    extra = sorted(p for p in params if p not in wanted)
    differing = [
        _difference(key, params[p], want) for p, (key, want) in sorted(wanted.items()) if p in params
    ]
    differing = [d for d in differing if d]
    for label, items in [
        ("source keys neither converted nor recorded as dropped", unaccounted),
        ("keys model.json records as dropped but the file lacks", not_in_file),
        ("source tensors missing from the converted params", missing),
        ("converted params without a source tensor", extra),
    ]:
        if items:
            problems.append(f"{label}: {items}")
    if differing:
        more = f" and {len(differing) - _SHOWN} more" if len(differing) > _SHOWN else ""
        problems.append(f"{len(differing)} tensors differ: " + "; ".join(differing[:_SHOWN]) + more)
    params_dir = os.path.join(dst, model_dir.PARAMS_DIR)
    if problems:
        return False, f"MISMATCH: {src} vs {params_dir} ({sha_note}): " + " | ".join(problems)
    return True, f"OK: {len(wanted)} tensors of {src} equal {params_dir} exactly ({sha_note})"


def _difference(key: str, got: np.ndarray, want: np.ndarray) -> str:
    """'' when `got` and `want` are the same bytes (so -0.0 ≠ 0.0 and NaN payloads count), else why not."""
    if got.dtype != want.dtype or got.shape != want.shape:
        return f"{key}: converted {got.dtype}{list(got.shape)}, source {want.dtype}{list(want.shape)}"
    bits = np.dtype(f"u{got.dtype.itemsize}")
    got_bits = np.ascontiguousarray(got).view(bits)
    want_bits = np.ascontiguousarray(want).view(bits)
    count = int(np.count_nonzero(got_bits != want_bits))
    if not count:
        return ""
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64)).max()
    return f"{key}: {count} of {got.size} values differ, max |diff| {diff:.3g}"
