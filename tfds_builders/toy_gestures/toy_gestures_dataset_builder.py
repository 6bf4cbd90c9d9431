"""TFDS builder ``toy_gestures``: procedural stick-figure videos of the 7 RoCoG-v2 signals.

Nothing is downloaded; every example is rendered by ``tfds_builders.toy_gestures.render`` from
``np.random.default_rng([seed, domain_id, split_id, index])`` with ``label = index % 7``, so the
``*_small`` configs hold exactly the first examples of the full configs of the same domain.

Prepare without TensorFlow (the builder defaults to ``array_record``)::

    import tensorflow_datasets as tfds, tfds_builders
    tfds.builder("toy_gestures/synthetic", data_dir=D).download_and_prepare()
    ds = tfds.data_source("toy_gestures/synthetic", split="train", data_dir=D)
    frames = gesture_jax.data.frames.decode_frames(ds[0]["frames"])  # uint8 [T, 64, 64, 3] RGB
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from gesture_jax.data.frames import encode_frames
from tfds_builders.array_record import default_to_array_record
from tfds_builders.toy_gestures.render import CLASS_NAMES, DOMAINS, PARAM_DTYPES, example_rng, render_video

_DESCRIPTION = """\
Toy stand-in for RoCoG-v2 (Robot Control Gestures v2, arXiv 2303.10280): front-view 2-D stick
figures performing the 7 US Army arm-and-hand signals (Advance, Attention, Rally, MoveForward,
Halt, FollowMe, MoveInReverse; RoCoG-v2's class index order), rendered procedurally with
numpy/OpenCV. Two domains with a deliberate gap: `synthetic` (flat background, saturated palette,
crisp lines) and `real` (textured background, muted palette, blur, camera shake, flicker, sensor
noise). Videos are 24-40 frames, stored as one JPEG per frame; every generator parameter
(timing, repetitions, body placement, colours, degradations) is stored under `params`.
Examples are deterministic in (seed, domain, split, index) and in split order
(label = index % 7).
"""

_JPEG_QUALITY = 90


@dataclasses.dataclass(eq=False, kw_only=True)
class ToyGesturesConfig(tfds.core.BuilderConfig):
    """A domain and the number of examples per class of each split."""

    domain: str = "synthetic"
    examples_per_class: dict[str, int] = dataclasses.field(default_factory=dict)
    frame_size: int = 64
    seed: int = 0


def _config(name: str, domain: str, sizes: dict[str, int], note: str = "") -> ToyGesturesConfig:
    splits = ", ".join(f"{s} {n}/class" for s, n in sizes.items())
    return ToyGesturesConfig(
        name=name, domain=domain, examples_per_class=sizes, description=f"{domain} domain, {splits}{note}."
    )


class Builder(tfds.core.GeneratorBasedBuilder):
    """Procedural toy RoCoG-v2 gesture videos (synthetic and real-looking domains)."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.", "1.1.0": "Thicker limbs, larger figures and hands."}
    BUILDER_CONFIGS = [
        _config("synthetic", "synthetic", {"train": 100, "val": 20}),
        _config("real", "real", {"train": 20, "test": 20}),
        _config("synthetic_small", "synthetic", {"train": 6, "val": 2}, " (tests, smoke runs)"),
        _config("real_small", "real", {"train": 3, "test": 3}, " (tests, smoke runs)"),
    ]

    def __init__(self, *, file_format=None, **kwargs):
        super().__init__(file_format=file_format, **kwargs)
        default_to_array_record(self, file_format)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=_DESCRIPTION,
            features=video_features(CLASS_NAMES, "synthetic or real"),
            supervised_keys=None,
            disable_shuffling=True,  # record i of a split is example index i
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        cfg = self.builder_config
        if cfg.domain not in DOMAINS:
            raise ValueError(f"unknown domain {cfg.domain!r}")
        return {split: self._generate_examples(split, n) for split, n in cfg.examples_per_class.items()}

    def _generate_examples(self, split: str, per_class: int):
        cfg = self.builder_config
        yield from toy_examples(
            render_video,
            len(CLASS_NAMES),
            look=cfg.domain,
            split=split,
            per_class=per_class,
            seed=cfg.seed,
            size=cfg.frame_size,
        )


def video_features(class_names, domains: str) -> tfds.features.FeaturesDict:
    """The record of a toy video: JPEG frames, label, id, look, size and every generator parameter."""
    params = {
        k: tfds.features.Scalar(np.int32 if t == "int" else np.float32) for k, t in PARAM_DTYPES.items()
    }
    return tfds.features.FeaturesDict(
        {
            "frames": tfds.features.Sequence(
                tfds.features.Tensor(shape=(), dtype=np.object_),
                doc="one JPEG per frame (RGB after decoding with gesture_jax.data.frames)",
            ),
            "label": tfds.features.ClassLabel(names=class_names),
            "id": tfds.features.Text(doc="<domain>/<split>/<index:05d>, unique"),
            "domain": tfds.features.Text(doc=domains),
            "num_frames": tfds.features.Scalar(np.int32),
            "height": tfds.features.Scalar(np.int32),
            "width": tfds.features.Scalar(np.int32),
            "params": tfds.features.FeaturesDict(params),
        }
    )


def toy_examples(render_fn, num_classes: int, *, look: str, split: str, per_class: int, seed: int, size: int):
    """(key, record) of every example of a toy split, in index order: label = index % num_classes, each
    video rendered by ``render_fn(label, look, rng, size=)`` with ``example_rng(seed, look, split,
    index)``. Shared by toy_gestures and toy_motions."""
    for index in range(per_class * num_classes):
        label = index % num_classes
        frames, params = render_fn(label, look, example_rng(seed, look, split, index), size=size)
        key = f"{look}/{split}/{index:05d}"
        yield key, video_example(key, frames, label, look, params)


def video_example(key: str, frames: np.ndarray, label: int, domain: str, params: dict) -> dict:
    return {
        "frames": encode_frames(frames, quality=_JPEG_QUALITY),
        "label": label,
        "id": key,
        "domain": domain,
        "num_frames": frames.shape[0],
        "height": frames.shape[1],
        "width": frames.shape[2],
        "params": params,
    }
