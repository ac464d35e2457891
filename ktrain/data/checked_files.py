"""Which image files of a data set are known to decode, so that a folder is checked once.

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
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_VARIABLE = "KTRAIN_CACHE_DIR"


def cache_dir() -> Path:
    """Where ktrain keeps what it can compute again: ``KTRAIN_CACHE_DIR``, else the XDG cache."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ktrain"


class CheckedFiles:
    """The decode verdicts of one data folder's files, read from and written to the cache."""

    def __init__(self, root: str):
        root = os.path.abspath(root)
        digest = hashlib.sha256(root.encode()).hexdigest()[:16]
        self.path = cache_dir() / "image_checks" / f"{digest}.json"
        self.root = root
        self.stamps: dict[str, list[int]] = {}  # of the files last checked: a split's digest is made of them
        try:
            self._verdicts = json.loads(self.path.read_text())["files"]
        except (OSError, ValueError, KeyError):
            self._verdicts = {}

    def unreadable(self, files: Sequence[str], decode_failures: Callable[[list[str]], list[str]]) -> list[str]:
        """The ``files`` that do not decode: known ones from the record, the others (new, or
        changed since) found by ``decode_failures``; the record is updated with them."""
        stamps = {file: stamp(file) for file in files}
        self.stamps.update(stamps)
        unknown = [file for file in files if self._verdicts.get(file, {}).get("stamp") != stamps[file]]
        failed = set(decode_failures(unknown))
        for file in unknown:
            self._verdicts[file] = {"stamp": stamps[file], "ok": file not in failed}
        log.info(
            "data: decoded %d image files to check them; %d were known from an earlier check (%s)",
            len(unknown),
            len(files) - len(unknown),
            self.path,
        )
        if unknown:
            self._save()
        return [file for file in files if not self._verdicts[file]["ok"]]

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps({"root": self.root, "files": self._verdicts}))
            os.replace(temporary, self.path)
        except OSError as error:
            log.warning(
                "data: cannot keep the record of checked files at %s (%s); the next run checks "
                "them again (set %s to a folder you can write)",
                self.path,
                error,
                CACHE_VARIABLE,
            )


def stamp(file: str) -> list[int]:
    """What tells a changed file: its size and modification time (nanoseconds)."""
    status = os.stat(file)
    return [status.st_size, status.st_mtime_ns]
