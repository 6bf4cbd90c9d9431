"""``toy_motions``: the toy world's pre-training corpus, 25 everyday motions in a neutral look.

The toy figure of ``toy_gestures`` performing motions that are not the seven gestures (waving,
reaching, clapping, jumping jacks, bends, squats, marching, side steps, jumps, turns, punches, ...;
``tfds_builders.toy_motions.motions``), with the gestures' per-video variation (speed, repetitions,
phase, size, leading arm, body, position, colours) in a third look, ``neutral``, that is neither the
synthetic nor the real one. It is to the toy encoder what Kinetics is to the real ones.

Prepare without TensorFlow::

    python -m gesture_jax.data.build toy_motions/neutral --data_dir D
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from tfds_builders.array_record import default_to_array_record
from tfds_builders.toy_gestures import render
from tfds_builders.toy_gestures.toy_gestures_dataset_builder import toy_examples, video_features
from tfds_builders.toy_motions.motions import CLASS_NAMES, MOTIONS, body_parts

_DESCRIPTION = f"""\
Pre-training corpus of the toy gesture world: the toy RoCoG-v2 stick figure performing
{len(CLASS_NAMES)} everyday motions that are not among the seven RoCoG-v2 gestures
({", ".join(CLASS_NAMES)}), rendered procedurally with numpy/OpenCV in a neutral look (mid-tone
backgrounds with soft blotches, medium-saturation clothes, mild blur, shake and noise). Videos are
24-40 frames, one JPEG per frame; every generator parameter is stored under `params`. Examples are
deterministic in (seed, look, split, index) and in split order (label = index % {len(CLASS_NAMES)}).
"""


@dataclasses.dataclass(eq=False, kw_only=True)
class ToyMotionsConfig(tfds.core.BuilderConfig):
    """The number of examples per class of each split."""

    look: str = "neutral"
    examples_per_class: dict[str, int] = dataclasses.field(default_factory=dict)
    frame_size: int = 64
    seed: int = 0


def _config(name: str, sizes: dict[str, int], note: str = "") -> ToyMotionsConfig:
    splits = ", ".join(f"{s} {n}/class" for s, n in sizes.items())
    return ToyMotionsConfig(name=name, examples_per_class=sizes, description=f"neutral look, {splits}{note}.")


class Builder(tfds.core.GeneratorBasedBuilder):
    """Everyday motions of the toy figure (pre-training corpus of the toy encoder)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 25 motions, neutral look."}
    BUILDER_CONFIGS = [
        _config("neutral", {"train": 120, "val": 16}),
        _config("neutral_small", {"train": 4, "val": 2}, " (tests, smoke runs)"),
    ]

    def __init__(self, *, file_format=None, **kwargs):
        super().__init__(file_format=file_format, **kwargs)
        default_to_array_record(self, file_format)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=_DESCRIPTION,
            features=video_features(CLASS_NAMES, "neutral"),
            supervised_keys=None,
            disable_shuffling=True,  # record i of a split is example index i
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        cfg = self.builder_config
        if cfg.look != "neutral":
            raise ValueError(f"toy_motions is rendered in the neutral look, got {cfg.look!r}")
        return {split: self._generate_examples(split, n) for split, n in cfg.examples_per_class.items()}

    def _generate_examples(self, split: str, per_class: int):
        cfg = self.builder_config
        yield from toy_examples(
            render_motion,
            len(CLASS_NAMES),
            look=cfg.look,
            split=split,
            per_class=per_class,
            seed=cfg.seed,
            size=cfg.frame_size,
        )


def render_motion(label: int, look: str, rng, *, size: int = 64):
    """One video of everyday motion `label` -> (uint8 ``[T, size, size, 3]`` RGB, params dict)."""
    params = render.sample_timing(MOTIONS[label].timing, rng)
    params.update(render.sample_appearance(look, rng))
    return render.draw(body_parts(label, params), params, look, rng, size=size), params
