"""Where a RoCoG-v2 config's files are: a manual_dir checkout (zips or extracted folders) or downloads.

The list paths are root-relative (``real/ground/<Class>/<file>.mp4``); the folder holding the class
folders of one part (a "view dir") is found among candidates, because the layout inside the zips is
unconfirmed (rocog_v2.md open question 1): a zip may hold ``real/ground/...``, ``real_ground/...``
or ``real_ground/real/ground/...``, or the class folders at its top.
"""

from __future__ import annotations

import dataclasses
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import tensorflow_datasets as tfds

from tfds_builders.rocog_v2.names import CLASS_NAMES, ListEntry

ZIP_URL = "https://www.cis.jhu.edu/~rocog/data/{part}.zip"
REPO_URL = "https://raw.githubusercontent.com/reddyav1/RoCoG-v2/4f7f7a5/{file}"
CLASS_DICT = "class_dict.json"


@dataclasses.dataclass(frozen=True)
class Part:
    """One zip of the release: domain "real" / "syn" and view "ground" / "air" / "orbital"."""

    domain: str
    view: str

    @property
    def name(self) -> str:  # zip stem and annotation-list prefix, e.g. "real_ground"
        return f"{self.domain}_{self.view}"

    @property
    def prefix(self) -> str:  # list-path prefix, e.g. "real/ground/"
        return f"{self.domain}/{self.view}/"

    def list_file(self, split: str) -> str:
        return f"annotations/{self.name}_{split}.txt"

    def view_dir_candidates(self, base: Path, *, include_base: bool = False) -> list[Path]:
        nested = [
            base / self.domain / self.view,
            base / self.name / self.domain / self.view,
            base / self.name,
        ]
        return nested + [base] if include_base else nested


@dataclasses.dataclass(frozen=True)
class Sources:
    class_dict: Path
    lists: dict[str, Path]  # split -> annotation list (empty for scanned parts)
    view_dirs: list[Path]  # folders holding the part's class folders, tried in order


def _holds_class_folders(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_dir() for name in CLASS_NAMES)


def expected_contents(part: Part, splits: Sequence[str]) -> str:
    files = [part.list_file(s) for s in splits] + [CLASS_DICT]
    return (
        f"{', '.join(files)} (from a checkout of github.com/reddyav1/RoCoG-v2), and {part.name}.zip or its "
        f"extracted folder {part.prefix}<ClassName>/*.mp4"
    )


def _listing(folder: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    return ", ".join(names[:20]) + (f", ... ({len(names)} entries)" if len(names) > 20 else "")


def unzip(archive: Path, extract_dir: Path) -> Path:
    """Unpacks `archive` once into a folder of `extract_dir` named by its size and time, and returns it.

    zipfile rather than dl_manager.extract, which needs TensorFlow's file API.
    """
    stat = archive.stat()
    target = extract_dir / f"{archive.name}.{stat.st_size}.{stat.st_mtime_ns}"
    if target.is_dir():
        return target
    partial = target.with_name(target.name + ".incomplete")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as z:
            z.extractall(partial)  # zipfile drops absolute paths and ".." from member names
    except zipfile.BadZipFile as e:
        raise ValueError(f"{archive}: not a readable zip ({e})") from None
    partial.rename(target)
    return target


def from_manual_dir(manual_dir: Path, part: Part, splits: Sequence[str], extract_dir: Path) -> Sources:
    """Checks the manual_dir for this part, unpacking its zip into `extract_dir` when needed."""
    expected = expected_contents(part, splits)
    if not manual_dir.is_dir() or not any(manual_dir.iterdir()):
        raise FileNotFoundError(
            f"manual_dir {manual_dir} does not exist or is empty; expected in it: {expected}"
        )
    lists = {s: manual_dir / part.list_file(s) for s in splits}
    absent = [
        str(p.relative_to(manual_dir)) for p in [*lists.values(), manual_dir / CLASS_DICT] if not p.is_file()
    ]
    if absent:
        raise FileNotFoundError(
            f"manual_dir {manual_dir} lacks {', '.join(absent)}; expected in it: {expected}. "
            f"It holds: {_listing(manual_dir)}"
        )
    view_dirs = [d for d in part.view_dir_candidates(manual_dir) if _holds_class_folders(d)]
    archive = manual_dir / f"{part.name}.zip"
    if not view_dirs and archive.is_file():
        unpacked = unzip(archive, extract_dir)
        view_dirs = [
            d for d in part.view_dir_candidates(unpacked, include_base=True) if _holds_class_folders(d)
        ]
        if not view_dirs:
            raise FileNotFoundError(
                f"{archive} holds no class folders of {part.name} (looked for {part.prefix}<ClassName>/, "
                f"{part.name}/<ClassName>/ and <ClassName>/); it unpacked to: {_listing(unpacked)}"
            )
    if not view_dirs:
        raise FileNotFoundError(
            f"manual_dir {manual_dir} has neither {part.name}.zip nor the extracted folder "
            f"{part.prefix}<ClassName>/; expected in it: {expected}. It holds: {_listing(manual_dir)}"
        )
    return Sources(manual_dir / CLASS_DICT, lists, view_dirs)


def from_download(
    dl_manager: tfds.download.DownloadManager, part: Part, splits: Sequence[str], extract_dir: Path
) -> Sources:
    """Fetches the zip from JHU and the lists and class map from the repository (pinned commit)."""
    files = {s: REPO_URL.format(file=part.list_file(s)) for s in splits}
    fetched = dl_manager.download({CLASS_DICT: REPO_URL.format(file=CLASS_DICT), **files})
    archive = Path(dl_manager.download(ZIP_URL.format(part=part.name)))
    unpacked = unzip(archive, extract_dir)
    view_dirs = [d for d in part.view_dir_candidates(unpacked, include_base=True) if _holds_class_folders(d)]
    if not view_dirs:
        raise FileNotFoundError(
            f"the downloaded {part.name}.zip holds no class folders: {_listing(unpacked)}"
        )
    return Sources(Path(fetched[CLASS_DICT]), {s: Path(fetched[s]) for s in splits}, view_dirs)


def resolve(
    entries: dict[str, list[ListEntry]], part: Part, view_dirs: Sequence[Path]
) -> dict[str, list[Path]]:
    """Entries of every split -> existing files; raises listing every missing one, before any decoding."""
    found: dict[str, list[Path]] = {}
    missing: list[str] = []
    for split, split_entries in entries.items():
        found[split] = []
        for entry in split_entries:
            relative = entry.path[len(part.prefix) :]
            file = next((d / relative for d in view_dirs if (d / relative).is_file()), None)
            if file is None:
                missing.append(entry.path)
            found[split].append(file)
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} listed videos are missing (looked under {', '.join(map(str, view_dirs))}):\n  "
            + "\n  ".join(missing)
        )
    return found


def scan(part: Part, view_dirs: Sequence[Path]) -> list[ListEntry]:
    """Every video (not ``*_mask.mp4``) of the class folders, by class index then file name."""
    entries = []
    for label, name in enumerate(CLASS_NAMES):
        files = {
            f.name for d in view_dirs for f in (d / name).glob("*.mp4") if not f.name.endswith("_mask.mp4")
        }
        entries += [ListEntry(f"{part.prefix}{name}/{file}", label, 0) for file in sorted(files)]
    if not entries:
        raise FileNotFoundError(f"no videos in the class folders under {', '.join(map(str, view_dirs))}")
    return entries
