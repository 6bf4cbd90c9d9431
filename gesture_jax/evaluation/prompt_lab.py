"""The zero-shot prompt lab: how much a zero-shot result owes to the wording of its prompts.

Each prompt set is scored as a CLIP-style ensemble (one row, as mode ``zeroshot`` always did) and taken
apart into its single prompts (`prompts.PromptSet.single_prompts`: one template with one text per class),
each scored on its own (rows with role "sweep", so they stay out of the summary tables). `spread` then
gives, per prompt set and query split, the single prompts' accuracies (min, median, max, standard
deviation) and each class's range across them beside the ensemble's; `plot_spread` draws them as box
plots. The same code serves every family with a text tower: the tokenizer and scoring rule come from the
family (`gesture_jax.analysis.zeroshot`), and every family ranks classes by cosine.

Text features are cached per encoder weights, tokenizer, vocabulary and exact texts
(``<cache>/text/*.npz``), so re-running with another prompt file embeds only its new texts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

from gesture_jax.analysis import zeroshot
from gesture_jax.evaluation import cells, report, scoring
from gesture_jax.infra import storage
from gesture_jax.models.family import TextTower

PLOT_FILE = "prompt_spread.png"
TEXT_CACHE = "text"


def _fingerprint(path: str | None) -> str:
    """sha256 of a vocabulary file, or of a tokenizer folder's file names, sizes and contents."""
    if not path:
        return ""
    digest = hashlib.sha256()
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, f) for root, _, names in os.walk(path) for f in names
    )  # fmt: skip
    for name in files:
        digest.update(os.path.relpath(name, path).encode() if name != path else b"")
        with open(name, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def text_features(
    model,
    texts: Sequence[str],
    *,
    tower: TextTower,
    vocab_path: str,
    cache_dir: str | None,
    about: dict[str, Any],
) -> np.ndarray:
    """[N, E] text-tower outputs for `texts` (tokenised as the family's `tower` says), from the cache
    when an entry has exactly these inputs. `about` names the encoder and its weights (part of the key)."""
    texts = list(texts)
    tokenizer, context_length = tower.tokenizer, tower.context(model)
    key = {
        **about,
        "tokenizer": tokenizer,
        "vocab_sha256": _fingerprint(vocab_path),
        "context_length": context_length,
        "texts_sha256": hashlib.sha256(json.dumps(texts).encode()).hexdigest(),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = (
        os.path.join(cache_dir, TEXT_CACHE, f"{about.get('encoder', 'encoder')}__{digest}.npz")
        if cache_dir
        else ""
    )
    if path and storage.exists(path):
        with np.load(io.BytesIO(storage.read_bytes(path))) as z:
            if list(z["texts"]) == texts and json.loads(str(z["key"])) == json.loads(
                json.dumps(key, default=str)
            ):
                logging.info("text features of %d prompts: cached at %s", len(texts), path)
                return z["features"]
        logging.warning("text cache entry %s does not match its key; embedding again", path)
    features = zeroshot.prompt_features(model, texts, tower=tower, vocab_path=vocab_path)
    if path:
        storage.write_npz(
            path, features=features, texts=np.array(texts), key=np.array(json.dumps(key, default=str))
        )
    return features


def embed(texts_per_class: Sequence[Sequence[str]], features: dict[str, np.ndarray]) -> np.ndarray:
    """[C, E]: each class's texts' features ensembled (normalised mean of normalised features)."""
    flat = [features[t] for texts in texts_per_class for t in texts]
    return zeroshot.ensemble(np.stack(flat), [len(texts) for texts in texts_per_class])


@dataclasses.dataclass(frozen=True)
class PromptScore:
    """One single prompt of a set (or the set's only prompt) on one query split."""

    prompt: str
    texts: Sequence[str] | None  # one text per class; None for a set's only prompt
    accuracy: float
    ci95: list[float] | None
    row: str  # the row's id in results.json


@dataclasses.dataclass(frozen=True)
class ClassSpread:
    ensemble: float | None  # the class's accuracy under the set's ensemble
    min: float
    max: float
    single: list[float]  # under each single prompt, in the order of the spread's `prompts`


@dataclasses.dataclass(frozen=True)
class PromptSpread:
    """A prompt set's spread across its single prompts on one query split (results.json
    ``prompt_spread``, one entry each)."""

    queries: str
    prompt_set: str
    ensemble_accuracy: float | None
    ensemble_ci95: list[float] | None
    num_prompts: int
    min: float
    median: float
    max: float
    std: float
    prompts: list[PromptScore]
    per_class: dict[str, ClassSpread]


def spread(rows: Sequence[scoring.Row]) -> list[PromptSpread]:
    """Per (query split, prompt set) with single-prompt rows: the ensemble's accuracy, each single
    prompt's, their summary, and each class's accuracy under the ensemble and its range over prompts."""
    out = []
    groups: dict[tuple[str, str], tuple[list[scoring.Row], list[scoring.Row]]] = {}
    for r in rows:
        key = r.key
        # Text + examples' "text only" rows (they carry `shots`) score the same texts over gallery
        # draws: they are not the prompt set's ensemble row and must not stand in for it.
        if key.method != "zeroshot" or not key.prompt_set or key.shots is not None:
            continue
        ensembles, singles = groups.setdefault((key.queries, key.prompt_set), ([], []))
        (singles if key.prompt else ensembles).append(r)
    for (queries, name), (ensembles, singles) in groups.items():
        ens = ensembles[-1] if ensembles else None
        singles = singles or [ens]  # a set of one prompt: that prompt is its ensemble
        acc = np.array([r.metrics["accuracy"] for r in singles])
        per_class = {}
        for c in singles[0].class_names:
            values = [r.metrics["per_class_accuracy"][c] for r in singles]
            if values[0] is None:
                continue
            ensemble = ens.metrics["per_class_accuracy"][c] if ens else None
            single = [float(v) for v in values]
            per_class[c] = ClassSpread(ensemble, min(single), max(single), single)
        prompts = [
            PromptScore(
                r.key.prompt or "the only prompt",
                r.facts.get("texts"),
                r.metrics["accuracy"],
                r.metrics.get("accuracy_ci95"),
                r.id,
            )
            for r in singles
        ]
        out.append(
            PromptSpread(
                queries,
                name,
                ensemble_accuracy=ens.metrics["accuracy"] if ens else None,
                ensemble_ci95=ens.metrics.get("accuracy_ci95") if ens else None,
                num_prompts=len(singles),
                min=float(acc.min()),
                median=float(np.median(acc)),
                max=float(acc.max()),
                std=float(acc.std()),
                prompts=prompts,
                per_class=per_class,
            )
        )
    return out


def plot_spread(path: str, entries: Sequence[PromptSpread]) -> bool:
    """Per query split: a box per prompt set over its single prompts' accuracies (points on top, the
    ensemble as a diamond), and a box per class over every single prompt of every set."""
    splits = list(dict.fromkeys(e.queries for e in entries))
    if not splits:
        return False
    fig, axes = plt.subplots(len(splits), 2, figsize=(12, 3.8 * len(splits)), dpi=100, squeeze=False)
    for (ax_sets, ax_classes), queries in zip(axes, splits):
        group = [e for e in entries if e.queries == queries]
        data = [[100 * p.accuracy for p in e.prompts] for e in group]
        ax_sets.boxplot(data, showfliers=False)
        for i, (values, e) in enumerate(zip(data, group), 1):
            x = i + np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [i]
            ax_sets.scatter(x, values, s=12, color="C0", alpha=0.7, zorder=3)
            if e.ensemble_accuracy is not None:
                ax_sets.scatter([i], [100 * e.ensemble_accuracy], marker="D", color="C3", zorder=4,
                                label="ensemble" if i == 1 else None)  # fmt: skip
        ax_sets.set_xticks(range(1, len(group) + 1), [e.prompt_set for e in group], rotation=20, ha="right")
        chance = 100 / len(group[0].per_class) if group[0].per_class else None
        if chance:
            ax_sets.axhline(chance, color="gray", linestyle="--", linewidth=1, label="chance")
        ax_sets.set_ylabel("accuracy % (one point per prompt)")
        ax_sets.set_title(f"prompt sets → {queries}", fontsize=9)
        ax_sets.set_ylim(0, 100)
        ax_sets.legend(fontsize=7)
        classes = list(dict.fromkeys(c for e in group for c in e.per_class))
        per_class = [
            [100 * v for e in group if c in e.per_class for v in e.per_class[c].single] for c in classes
        ]
        ax_classes.boxplot(per_class, showfliers=True)
        ax_classes.set_xticks(range(1, len(classes) + 1), classes, rotation=30, ha="right")
        ax_classes.set_ylabel("class accuracy % over all prompts")
        ax_classes.set_title(f"per class, every single prompt → {queries}", fontsize=9)
        ax_classes.set_ylim(0, 100)
    report.save_figure(path, fig)
    return True


def section(entries: Sequence[PromptSpread], plot_file: str | None) -> str:
    if not entries:
        return ""
    lines = [
        "## Prompt lab: spread across single prompts",
        "",
        "Each prompt set's single prompts (one template, one text per class) scored on their own: how much "
        "the wording moves zero-shot accuracy. Ensemble: the set's CLIP-style average, with its 95% "
        "interval.",
        "",
    ]
    if plot_file:
        lines += [f"![accuracy across prompts]({plot_file})", ""]
    lines += [
        "| queries | prompt set | prompts | ensemble | min | median | max | std |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for e in entries:
        ens = cells.percent(e.ensemble_accuracy, e.ensemble_ci95) if e.ensemble_accuracy is not None else "–"
        lines.append(
            f"| `{e.queries}` | {e.prompt_set} | {e.num_prompts} | {ens} | {100 * e.min:.1f} | "
            f"{100 * e.median:.1f} | {100 * e.max:.1f} | {100 * e.std:.1f} |"
        )
    lines += ["", "Per class: the ensemble's accuracy and the range over the set's single prompts.", ""]
    for e in entries:
        per_class = ", ".join(
            f"{c} {_pct(v.ensemble)} ({100 * v.min:.0f}–{100 * v.max:.0f})" for c, v in e.per_class.items()
        )
        lines.append(f"- `{e.queries}`, {e.prompt_set}: {per_class}")
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}"
