"""Which files of a data set are known to read, so that a folder is checked once: images that
decode, texts that hold text.

Decoding every file to find the corrupt ones takes about a second per 1,300 files on 2
cores: 16 minutes per run for an ImageNet-sized folder, and as much again for every job of a
sweep. ``CheckedFiles`` keeps each file's verdict, keyed by its path, size and modification
time, so a later run decodes only new or changed files. The record lives in the user's cache
(``KTRAIN_CACHE_DIR``, else ``$XDG_CACHE_HOME/ktrain``, else ``~/.cache/ktrain``), one file
per data folder, so a read-only data folder does not matter. Jobs that write it at once each
replace it whole (atomically): the worst a race costs is decoding some files again.
"""

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ktrain.data.folders import ClassFolder, FileKind, FolderError, FolderScan, listed
from ktrain.errors import UserError

log = logging.getLogger(__name__)

CACHE_VARIABLE = "KTRAIN_CACHE_DIR"


def cache_dir() -> Path:
    """Where ktrain keeps what it can compute again: ``KTRAIN_CACHE_DIR``, else the XDG cache."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ktrain"


class FileRecord:
    """Values computed from one folder's files (a decode verdict, a checksum), kept in the cache
    (``<cache>/<kind>/``) keyed by each file's path, size and modification time, so that only new
    or changed files are computed again."""

    def __init__(self, root: str, kind: str):
        root = os.path.abspath(root)
        digest = hashlib.sha256(root.encode()).hexdigest()[:16]
        self.path = cache_dir() / kind / f"{digest}.json"
        self.root = root
        self.stamps: dict[str, list[int]] = {}  # of the files last looked at: a split's digest is made of them
        try:
            self._values = json.loads(self.path.read_text())["files"]
        except (OSError, ValueError, KeyError):
            self._values = {}

    def values(self, files: Sequence[str], compute: Callable[[list[str]], dict[str, Any]]) -> tuple[dict, int]:
        """Each of ``files``' value: known ones from the record, the others (new, or changed since)
        by ``compute`` (which maps each file it is given to its value); and how many were computed."""
        stamps = {file: stamp(file) for file in files}
        self.stamps.update(stamps)
        unknown = [file for file in files if self._values.get(file, {}).get("stamp") != stamps[file]]
        computed = compute(unknown) if unknown else {}
        for file in unknown:
            self._values[file] = {"stamp": stamps[file], "value": computed[file]}
        if unknown:
            self._save()
        return {file: self._values[file]["value"] for file in files}, len(unknown)

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps({"root": self.root, "files": self._values}))
            os.replace(temporary, self.path)
        except OSError as error:
            log.warning(
                "data: cannot keep the record of checked files at %s (%s); the next run checks "
                "them again (set %s to a folder you can write)",
                self.path,
                error,
                CACHE_VARIABLE,
            )


class CheckedFiles(FileRecord):
    """The verdicts of one data folder's files (whether each decodes, or holds text); ``checked``
    says how the log names the check."""

    def __init__(self, root: str, checked: str = "decoded %d image files to check them"):
        super().__init__(root, "image_checks")
        self.checked = checked

    def unreadable(self, files: Sequence[str], decode_failures: Callable[[list[str]], list[str]]) -> list[str]:
        """The ``files`` that do not decode: known ones from the record, the others (new, or
        changed since) found by ``decode_failures``; the record is updated with them."""

        def verdicts(unknown: list[str]) -> dict[str, bool]:
            failed = set(decode_failures(unknown))
            return {file: file not in failed for file in unknown}

        readable, checked = self.values(files, verdicts)
        log.info(
            f"data: {self.checked}; %d were known from an earlier check (%s)", checked, len(files) - checked, self.path
        )
        return [file for file in files if not readable[file]]


def stamp(file: str) -> list[int]:
    """What tells a changed file: its size and modification time (nanoseconds)."""
    status = os.stat(file)
    return [status.st_size, status.st_mtime_ns]


def readable_folders(
    path: str, found: FolderScan, on_bad_file: str, failures: Callable[[list[str]], list[str]], kind: FileKind
) -> tuple[list[ClassFolder], dict]:
    """The class folders without the files ``failures`` finds (undecodable images, texts without
    text) and files of a type the reader does not read, which are named in the log or refused;
    and the stamps (size, modification time) of the files checked."""
    files = [file for folder in found.folders for file in folder.files]
    others = [file for folder in found.folders for file in folder.other_images]
    checked = CheckedFiles(found.root, f"{kind.check} %d {kind.noun} files to check them")
    bad = set(checked.unreadable(files, failures)) | set(others)
    files += others
    if bad and on_bad_file == "error":
        named = sorted(bad)
        more = f" and {len(named) - 10} more" if len(named) > 10 else ""
        raise UserError(
            f"data.path={path!r}: {len(bad)} of {len(files)} {kind.noun} files {kind.fault}: "
            f"{', '.join(named[:10])}{more}. Fix or remove them, or set data.on_bad_file=skip to "
            "leave them out."
        )
    if bad:
        log.warning(
            "data: skipping %d of %d %s files that %s (data.on_bad_file=skip):\n  %s",
            *(len(bad), len(files), kind.noun, kind.fault, "\n  ".join(sorted(bad))),
        )
    folders = [replace(f, files=tuple(file for file in f.files if file not in bad)) for f in found.folders]
    unreadable = [folder.name for folder in folders if not folder.files]
    if unreadable:
        raise FolderError(
            path,
            f"no readable {kind.noun} in the class folders {listed(unreadable)} ({kind.all_bad}); "
            "fix the files or remove the folders",
        )
    return folders, checked.stamps
