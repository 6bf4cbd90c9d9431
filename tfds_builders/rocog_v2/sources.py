"""Where a RoCoG-v2 config's files are: a manual_dir checkout (zips or extracted folders) or downloads.

The list paths are root-relative (``real/ground/<Class>/<file>.mp4``), so an extracted part sits at
``<root>/real/ground/``. Inside a zip the layout is unconfirmed (no zip of the release was
available to check), so the
part's folder (the "view dir", holding the class folders) is found by a bounded search: the one folder
at most three levels down that holds class folders; two candidates are an error listing both.
Synthetic parts also need the generator's XMLs from the repository's ``simulation_info/xml/``.
"""

from __future__ import annotations

import dataclasses
import shutil
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import tensorflow_datasets as tfds

from tfds_builders.rocog_v2.names import CLASS_NAMES, ListEntry

ZIP_URL = "https://www.cis.jhu.edu/~rocog/data/{part}.zip"
REPO_COMMIT = "4f7f7a5ba4b252289b09c8513c8da979c91b48ab"  # the release's lists and XMLs, pinned in full
REPO_URL = f"https://raw.githubusercontent.com/reddyav1/RoCoG-v2/{REPO_COMMIT}/{{file}}"
CLASS_DICT = "class_dict.json"
SIMULATION_DIR = "simulation_info/xml"
# view -> (playlist, scene table); the air view's files are named "hover".
SIMULATION_FILES = {
    "ground": ("rocog_ground_gestures.xml", "rocog_ground.xml"),
    "air": ("rocog_hover_gestures.xml", "rocog_hover.xml"),
    "orbital": ("rocog_orbital_gestures.xml", "rocog_orbital.xml"),
}
MAX_SEARCH_DEPTH = 3  # levels below a zip's top (or its extracted folder) searched for the class folders
_ZIP_JUNK = "__MACOSX"  # resource-fork copies macOS zip tools add beside the real folders


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

    def simulation_files(self) -> dict[str, str]:
        """The generator XMLs by role ("playlist", "scenes") -> repository path; none for real parts."""
        if self.domain != "syn":
            return {}
        playlist, scenes = SIMULATION_FILES[self.view]
        return {"playlist": f"{SIMULATION_DIR}/{playlist}", "scenes": f"{SIMULATION_DIR}/{scenes}"}


@dataclasses.dataclass(frozen=True)
class Sources:
    class_dict: Path
    lists: dict[str, Path]  # split -> annotation list (empty for scanned parts)
    view_dir: Path  # the folder holding the part's class folders
    simulation: dict[str, Path]  # "playlist" / "scenes" -> generator XML (synthetic parts)


def _holds_class_folders(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_dir() for name in CLASS_NAMES)


def find_view_dir(base: Path, part: Part) -> Path | None:
    """The one folder, `base` itself or up to MAX_SEARCH_DEPTH levels below it, holding class folders."""
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        if _holds_class_folders(folder):
            found.append(folder)
        elif depth < MAX_SEARCH_DEPTH:
            for child in sorted(folder.iterdir()):
                if child.is_dir() and child.name != _ZIP_JUNK:
                    walk(child, depth + 1)

    walk(base, 0)
    if len(found) > 1:
        listed = ", ".join(str(f.relative_to(base)) for f in found)
        raise ValueError(
            f"{base} holds class folders ({'/'.join(CLASS_NAMES[:2])}/...) in {len(found)} places: "
            f"{listed}; expected exactly one folder for {part.name}"
        )
    return found[0] if found else None


def expected_contents(part: Part, splits: Sequence[str]) -> str:
    files = [part.list_file(s) for s in splits] + [CLASS_DICT, *part.simulation_files().values()]
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
    simulation = {k: manual_dir / f for k, f in part.simulation_files().items()}
    absent = [
        str(p.relative_to(manual_dir))
        for p in [*lists.values(), manual_dir / CLASS_DICT, *simulation.values()]
        if not p.is_file()
    ]
    if absent:
        raise FileNotFoundError(
            f"manual_dir {manual_dir} lacks {', '.join(absent)}; expected in it: {expected}. "
            f"It holds: {_listing(manual_dir)}"
        )
    return Sources(
        manual_dir / CLASS_DICT, lists, _manual_view_dir(manual_dir, part, extract_dir), simulation
    )


def _manual_view_dir(manual_dir: Path, part: Part, extract_dir: Path) -> Path:
    """The extracted ``<domain>/<view>/`` the list paths name, else the part's extracted folder or zip."""
    documented = manual_dir / part.domain / part.view
    if _holds_class_folders(documented):
        return documented
    extracted, archive = manual_dir / part.name, manual_dir / f"{part.name}.zip"
    if extracted.is_dir():
        return _search(extracted, part, f"{extracted}")
    if archive.is_file():
        return _search(unzip(archive, extract_dir), part, f"{archive}, unpacked,")
    raise FileNotFoundError(
        f"manual_dir {manual_dir} has neither {part.name}.zip nor the extracted folder "
        f"{part.prefix}<ClassName>/; expected in it: {expected_contents(part, [])}. "
        f"It holds: {_listing(manual_dir)}"
    )


def _search(base: Path, part: Part, what: str) -> Path:
    """`find_view_dir`, failing with what `base` holds when there is no such folder."""
    found = find_view_dir(base, part)
    if found is None:
        raise FileNotFoundError(
            f"{what} holds no class folders of {part.name} within {MAX_SEARCH_DEPTH} levels of its top "
            f"(looked for a folder holding {', '.join(CLASS_NAMES)}); it holds: {_listing(base)}"
        )
    return found


def from_download(
    dl_manager: tfds.download.DownloadManager, part: Part, splits: Sequence[str], extract_dir: Path
) -> Sources:
    """Fetches the zip from JHU and the lists, class map and generator XMLs from the repository at
    the pinned commit."""
    files = {s: part.list_file(s) for s in splits} | part.simulation_files() | {CLASS_DICT: CLASS_DICT}
    fetched = dl_manager.download({key: REPO_URL.format(file=file) for key, file in files.items()})
    archive = Path(dl_manager.download(ZIP_URL.format(part=part.name)))
    return Sources(
        Path(fetched[CLASS_DICT]),
        {s: Path(fetched[s]) for s in splits},
        _search(unzip(archive, extract_dir), part, f"the downloaded {archive.name}, unpacked,"),
        {k: Path(fetched[k]) for k in part.simulation_files()},
    )


def resolve(entries: dict[str, list[ListEntry]], part: Part, view_dir: Path) -> dict[str, list[Path]]:
    """Entries of every split -> existing files; raises listing every missing one, before any decoding."""
    found: dict[str, list[Path]] = {}
    missing: list[str] = []
    for split, split_entries in entries.items():
        found[split] = [view_dir / entry.path[len(part.prefix) :] for entry in split_entries]
        missing += [e.path for e, f in zip(split_entries, found[split]) if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} listed videos are missing (looked under {view_dir}):\n  " + "\n  ".join(missing)
        )
    return found


def videos(part: Part, view_dir: Path) -> list[ListEntry]:
    """Every video (not a ``*_mask.mp4`` companion) of the class folders, by class index then name."""
    entries = []
    for label, name in enumerate(CLASS_NAMES):
        files = sorted(f.name for f in (view_dir / name).glob("*.mp4") if not f.name.endswith("_mask.mp4"))
        entries += [ListEntry(f"{part.prefix}{name}/{file}", label, 0) for file in files]
    return entries


def unlisted(part: Part, view_dir: Path, listed: Iterable[ListEntry]) -> list[str]:
    """Videos in the class folders that no list names (reported by the build, not fatal)."""
    names = {e.path for e in listed}
    return [e.path for e in videos(part, view_dir) if e.path not in names]
