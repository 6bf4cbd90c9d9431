"""TFDS builder ``rocog_v2``: RoCoG-v2 gesture videos as resized JPEG frames (no TensorFlow needed).

Splits follow the official annotation lists, in list order; see README (RoCoG-v2) for the
release itself. Prepare without TensorFlow::

    python -m gesture_jax.data.build rocog_v2/real_ground --data_dir D --manual_dir M
    ds = tfds.data_source("rocog_v2/real_ground", split="test", data_dir=D)  # after `import tfds_builders`
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.array_record import default_to_array_record
from tfds_builders.rocog_v2 import metadata, names, simulation, sources, video

log = logging.getLogger(__name__)

DEFAULT_SHORT_SIDE = 224  # UMT/VideoMAE's test resize: the pipeline's own 224 resize is then exact
SCANNED_SPLIT = "full"  # TFDS reserves "all"
_SPLITS = {"real": ("train", "test", "train_tsonly", "val_tsonly"), "syn": ("train", "val")}
_DOMAIN_NAMES = {"real": "real", "syn": "synthetic"}
_SHOWN = 20  # problems listed one by one in the log; the metadata keeps them all

_DESCRIPTION = """\
RoCoG-v2 (Robot Control Gestures v2, arXiv 2303.10280): 7 US Army arm-and-hand signals (Advance,
Attention, Rally, MoveForward, Halt, FollowMe, MoveInReverse, in class_dict.json order), filmed from
the ground and from a hovering drone (real) and rendered in Unity from ground, hover and orbiting
cameras (synthetic). Splits are the official annotation lists in list order; `syn_orbital` has no
lists, so its one split `full` holds every video of its class folders whose name is a synthetic
video name, by class index then file name. Frames are decoded at build time, resized so the short
side is `frame_short_side` (see the metadata), and stored as JPEG. Real videos' fields come from
their file names. Synthetic videos' fields come from the generator's own records in the repository's
simulation_info/xml: the scene table (terrain, avatar, sun, camera) by the name's scene index, and
the gesture parameters from the video's companion <stem>.xml, or from its view's playlist record
(the name's second field) when it has none; `metadata_source` says which. Data: CC BY 4.0 with
further terms (no re-identification of participants; the third-party Unity assets and mocap data
are not covered).
"""

_CITATION = """\
@inproceedings{reddy2023rocogv2,
  title={Synthetic-to-Real Domain Adaptation for Action Recognition: A Dataset and Baseline Performances},
  author={Reddy, Arun V. and Shah, Ketul and Paul, William and Mocharla, Rohita and Hoffman, Judy and
          Katyal, Kapil D. and Manocha, Dinesh and de Melo, Celso M. and Chellappa, Rama},
  booktitle={ICRA},
  year={2023}
}
"""

_INT, _FLOAT, _TEXT = tfds.features.Scalar(np.int32), tfds.features.Scalar(np.float32), tfds.features.Text()
_BOOL = tfds.features.Scalar(np.bool_)
_COMMON_FEATURES = {
    "frames": tfds.features.Sequence(
        tfds.features.Tensor(shape=(), dtype=np.object_),
        doc="one JPEG per frame (RGB after decoding with gesture_jax.data.frames)",
    ),
    "path": tfds.features.Text(doc="root-relative path, exactly as in the annotation list"),
    "fps": _FLOAT,
    "num_frames": _INT,
    "height": _INT,  # of the stored frames
    "width": _INT,
    "orig_height": _INT,  # of the source video
    "orig_width": _INT,
}
# One table per domain, so each config's examples carry only the fields its sources define. Synthetic
# fields name their XML element in the docs; see tfds_builders/rocog_v2/simulation.py.
_DOMAIN_FEATURES = {
    "real": {"subject": _TEXT, "distance_m": _INT, "view": _TEXT, "take": _INT, "start_frame": _INT},
    "syn": {
        "scene": _INT,  # Scene<S> of the name: the record of rocog_{ground,hover,orbital}.xml
        "video_index": _INT,  # <I> of the name: the record of the view's playlist
        "terrain": _TEXT,  # <terrain>, e.g. "Grassy Terrain"
        "avatar": _TEXT,  # <target>
        "sun_temperature_k": _FLOAT,  # <lightingParameters><sunColorTemperature>
        "camera_yaw": _FLOAT,  # <cameraParameters><yRotation>, degrees (orbital: the start yaw)
        "camera_distance_m": _FLOAT,  # <distanceToTarget>
        "camera_height_m": _FLOAT,  # <height>
        "camera_orbit_deg_per_s": _FLOAT,  # <degreesPerSecond> when <animate>true; else 0
        "gesture_start_s": _FLOAT,  # <startTime> (not <startDelay>)
        "gesture_end_s": _FLOAT,  # <endTime> (not <endDelay>)
        "repetitions": _INT,  # <numberOfRepetitions>
        "gesture_speed": _FLOAT,  # <gestureSpeed>
        "gesture_variation": _INT,  # <gestureVariation>
        "mirrored": _BOOL,  # <mirrored>
        "pose": _TEXT,  # <pose>
        "race": _TEXT,  # <race>
        "thickness": _TEXT,  # <thickness>
        "visual_realism": _TEXT,  # <visualRealism>: Animated or Mocap
        "performer": _TEXT,  # mocap names: S01 / S02 ("" when animated)
        "take": _INT,  # mocap names: 1 / 2 (-1 when animated)
        "metadata_source": _TEXT,  # "companion" (the video's <stem>.xml) or "playlist"
    },
}


class BadVideoError(ValueError):
    """A listed video could not be decoded (and skip_bad_videos is off)."""


@dataclasses.dataclass(eq=False, kw_only=True)
class RocogV2Config(tfds.core.BuilderConfig):
    """One zip of the release; `splits` are its annotation lists (none: scan the class folders)."""

    domain: str = "real"  # "real" or "syn"
    view: str = "ground"  # "ground", "air" or "orbital"
    splits: tuple[str, ...] = ()

    @property
    def part(self) -> sources.Part:
        return sources.Part(self.domain, self.view)


def _config(domain: str, view: str, note: str = "") -> RocogV2Config:
    splits = _SPLITS[domain] if view != "orbital" else ()
    shown = ", ".join(splits) or SCANNED_SPLIT
    return RocogV2Config(
        name=f"{domain}_{view}",
        domain=domain,
        view=view,
        splits=splits,
        description=f"{_DOMAIN_NAMES[domain]} {view} videos; splits: {shown}{note}.",
    )


class Builder(tfds.core.GeneratorBasedBuilder):
    """RoCoG-v2 real and synthetic gesture videos, one config per released zip."""

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "2.0.0": "Synthetic metadata from the generator's XMLs by exact field name (companion, playlist, "
        "scene table); orbital scenes filled in; edit-list frame counts tolerated and reported.",
    }
    BUILDER_CONFIGS = [
        _config("real", "ground"),
        _config("real", "air"),
        _config("syn", "ground"),
        _config("syn", "air"),
        _config("syn", "orbital", " (no official lists; zip layout unconfirmed)"),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Optional (otherwise everything is downloaded). Put a checkout of github.com/reddyav1/RoCoG-v2
    (annotations/, class_dict.json, and for synthetic configs simulation_info/xml/) in manual_dir,
    with the config's zip from https://www.cis.jhu.edu/~rocog/data/ (e.g. real_ground.zip) or its
    extracted real/ or syn/ folder.
    """

    def __init__(
        self,
        *,
        frame_short_side: int | None = None,
        skip_bad_videos: bool = False,
        file_format=None,
        **kwargs,
    ):
        """`frame_short_side` (default 224): stored frame size; `skip_bad_videos`: leave out and record
        undecodable videos instead of stopping the build."""
        if frame_short_side is not None and (
            not isinstance(frame_short_side, int)
            or isinstance(frame_short_side, bool)
            or frame_short_side < 1
        ):
            raise ValueError(f"frame_short_side must be an int >= 1, got {frame_short_side!r}")
        self._short_side = frame_short_side or DEFAULT_SHORT_SIDE
        self._skip_bad_videos = bool(skip_bad_videos)
        self._manual_dir: Path | None = None
        self._decoder = video.Decoder(workers=1)  # replaced by a pooled one for each build
        super().__init__(file_format=file_format, **kwargs)
        default_to_array_record(self, file_format)
        if frame_short_side is not None and self.is_prepared():
            built = self.info.metadata["frame_short_side"]
            if built != frame_short_side:
                raise ValueError(
                    f"{self.data_dir} was built with frame_short_side={built}, not {frame_short_side}; "
                    "build into another data_dir"
                )

    def _info(self) -> tfds.core.DatasetInfo:
        domain = self.builder_config.domain
        features = {**_COMMON_FEATURES, "label": tfds.features.ClassLabel(names=names.CLASS_NAMES)}
        return self.dataset_info_from_configs(
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict({**features, **_DOMAIN_FEATURES[domain]}),
            metadata=tfds.core.MetadataDict(
                frame_short_side=self._short_side,
                jpeg_quality=video.JPEG_QUALITY,
                skip_bad_videos=self._skip_bad_videos,
                skipped_videos={},  # split -> list paths left out as undecodable
                frames_hidden={},  # split -> {path: frames an edit list hid from the decoder}
                metadata_sources={},  # split -> {"companion": n, "playlist": n} (synthetic)
                companion_disagreements=[],  # companion vs playlist: "file: field is A here but B ..."
                unknown_companion_fields={},  # element outside the documented schema -> videos
                unlisted_videos=[],  # videos in the class folders that no list names (not built)
                build_notes=[],  # the build summary, one line each
            ),
            homepage="https://github.com/reddyav1/RoCoG-v2",
            citation=_CITATION,
            license="CC BY 4.0 with additional terms (repository DATA_LICENSE.md)",
            disable_shuffling=True,  # record i of a split is line i of its list
        )

    def download_and_prepare(self, *, download_dir=None, download_config=None, **kwargs) -> None:
        # TFDS always hands the download manager a manual_dir (a default one when none was given);
        # remember whether the caller named one, so a wrong one is an error rather than a download.
        given = download_config.manual_dir if download_config else None
        self._manual_dir = Path(given).expanduser() if given else None
        with video.Decoder() as self._decoder:
            super().download_and_prepare(download_dir=download_dir, download_config=download_config, **kwargs)

    def _sources(self, dl_manager: tfds.download.DownloadManager) -> sources.Sources:
        cfg = self.builder_config
        manual_dir = self._manual_dir
        default = Path(dl_manager.download_dir) / "manual"
        if manual_dir is None and default.is_dir() and any(default.iterdir()):
            manual_dir = default
        extract_dir = Path(dl_manager.download_dir) / "extracted"
        if manual_dir is None:
            return sources.from_download(dl_manager, cfg.part, cfg.splits, extract_dir)
        return sources.from_manual_dir(manual_dir, cfg.part, cfg.splits, extract_dir)

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        cfg = self.builder_config
        src = self._sources(dl_manager)
        names.parse_class_dict(src.class_dict.read_text(), str(src.class_dict))
        if cfg.splits:
            entries = {
                s: names.parse_list(path.read_text(), str(path), cfg.part.prefix)
                for s, path in src.lists.items()
            }
            listed = [e for split_entries in entries.values() for e in split_entries]
            self._note_unlisted(sources.unlisted(cfg.part, src.view_dir, listed))
        else:
            entries = {SCANNED_SPLIT: self._scan(src.view_dir)}
        # Every name, then every file and record, is checked before the first video is decoded.
        parse_name = names.real_metadata if cfg.domain == "real" else names.synthetic_name_fields
        meta = {s: [parse_name(e.path, e.label) for e in es] for s, es in entries.items()}
        files = sources.resolve(entries, cfg.part, src.view_dir)
        if cfg.domain == "syn":
            sim = metadata.Simulation.read(src.simulation["playlist"], src.simulation["scenes"])
            meta = {s: self._synthetic(s, entries[s], files[s], sim) for s in entries}
        return {s: self._generate_examples(s, list(zip(entries[s], files[s], meta[s]))) for s in entries}

    def _note(self, line: str, *, warn: bool = True) -> None:
        (log.warning if warn else log.info)("%s %s", self.builder_config.name, line)
        self.info.metadata["build_notes"].append(line)

    def _note_unlisted(self, paths: list[str], why: str = "are in no list") -> None:
        self.info.metadata["unlisted_videos"] = paths
        if paths:
            shown = ", ".join(paths[:_SHOWN]) + (", ..." if len(paths) > _SHOWN else "")
            self._note(f"{len(paths)} videos in the class folders {why} and were left out: {shown}")

    def _scan(self, view_dir: Path) -> list[names.ListEntry]:
        """Every video of the class folders whose name is a synthetic video name (others reported)."""
        found, odd = [], []
        for entry in sources.videos(self.builder_config.part, view_dir):
            try:
                names.synthetic_name_fields(entry.path, entry.label)
                found.append(entry)
            except ValueError:
                odd.append(entry.path)
        self._note_unlisted(odd, "have no synthetic video name")
        if not found:
            raise FileNotFoundError(f"no synthetic videos in the class folders under {view_dir}")
        return found

    def _synthetic(
        self, split: str, entries: list[names.ListEntry], files: list[Path], sim: metadata.Simulation
    ) -> list[dict[str, Any]]:
        """Each video's fields from its name, scene, playlist record and companion XML."""
        md = self.info.metadata
        out, disagreements = [], []
        unknown: dict[str, int] = {}  # this split's companion elements outside the schema -> videos
        for entry, file in zip(entries, files):
            xml = file.with_suffix(".xml")
            companion = None
            if xml.is_file():
                companion = (str(xml), simulation.parse_companion(xml.read_bytes(), str(xml)))
                for field in companion[1].unknown:
                    unknown[field] = unknown.get(field, 0) + 1
            fields, found = metadata.synthetic_metadata(entry.path, entry.label, sim, companion)
            out.append(fields)
            disagreements += found
        counts = {k: sum(f["metadata_source"] == k for f in out) for k in ("companion", "playlist")}
        md["metadata_sources"][split] = counts
        self._note(
            f"{split}: gesture parameters of {counts['companion']} videos from their companion XML, "
            f"{counts['playlist']} from the playlist (no companion)",
            warn=False,
        )
        md["companion_disagreements"] += [str(d) for d in disagreements]
        for d in disagreements[:_SHOWN]:
            log.warning("%s", d)
        if disagreements:
            self._note(f"{split}: {len(disagreements)} companion fields disagree with the playlist (kept)")
        if unknown:
            for field, count in unknown.items():
                md["unknown_companion_fields"][field] = md["unknown_companion_fields"].get(field, 0) + count
            self._note(f"{split}: companion elements outside the documented schema (ignored): {unknown}")
        return out

    def _generate_examples(self, split: str, items: list[tuple[names.ListEntry, Path, dict[str, Any]]]):
        cfg = self.builder_config
        tasks = [video.Task(str(file), self._short_side) for _, file, _ in items]
        skipped = self.info.metadata["skipped_videos"].setdefault(split, [])
        hidden = self.info.metadata["frames_hidden"].setdefault(split, {})
        results = self._decoder.load_all(tasks, desc=f"Decoding {cfg.name} {split}")
        for index, ((entry, file, meta), result) in enumerate(zip(items, results)):
            if result.fields is None:
                why = f"bad video {file} (listed as {entry.path}): {result.error}"
                if not self._skip_bad_videos:
                    raise BadVideoError(
                        f"{why}; build with skip_bad_videos=True (--skip_bad_videos) to leave it out"
                    )
                log.warning("skipping %s", why)
                skipped.append(entry.path)
                continue
            fields = dict(result.fields)
            if n := fields.pop("frames_hidden"):
                hidden[entry.path] = n
            yield index, {**fields, **meta, "label": entry.label, "path": entry.path}
        if hidden:
            self._note(
                f"{split}: {len(hidden)} videos decoded {sum(hidden.values())} frames fewer than their "
                "containers list, all hidden by edit lists (tolerated)",
            )
        if skipped:
            self._note(f"{split}: skipped {len(skipped)} bad videos of {len(items)}")
        if len(skipped) == len(items):  # TFDS cannot write an empty split
            raise BadVideoError(f"every video of {cfg.name} {split} is bad: {', '.join(skipped)}")
