"""Finding a table's files and reading their header, without TensorFlow.

The config schema calls ``check_table`` so that a missing file, an empty table, a target or
feature column the table lacks are refused in well under a second, before TensorFlow is
imported (a Parquet file's header is read by pyarrow, a CSV file's by the ``csv`` module). The
other data options call ``table_hint`` to tell a user who gave them a table to use
``data=table``.
"""

import csv
import os
from collections.abc import Sequence

from ktrain.errors import UserError

TABLE_SUFFIXES = (".csv", ".parquet")
FEATURE_KINDS = ("number", "category", "text", "skip")


class TableError(UserError):
    """A table that cannot be used; ``reason`` is the message without the key."""

    def __init__(self, key: str, reason: str):
        self.reason = reason
        super().__init__(f"{key}: {reason}.")


def is_table_file(path: str) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") and name.lower().endswith(TABLE_SUFFIXES)


def table_hint(path: str) -> str | None:
    """What to use instead, where ``path`` is a table (a CSV or Parquet file, or a folder of
    them) given to another data option; None where it is not."""
    path = os.path.expanduser(path)
    if os.path.isfile(path) and is_table_file(path):
        found = "a table"
    elif os.path.isdir(path) and _only_tables(path):
        found = "a folder of tables"
    else:
        return None
    return f"it is {found} ({', '.join(TABLE_SUFFIXES)}): use data=table data.path={path} data.target=<column>"


def _only_tables(folder: str) -> bool:
    """Whether ``folder`` holds tables and no subfolder (an image folder holds class folders)."""
    with os.scandir(folder) as entries:
        found = [entry for entry in entries if not entry.name.startswith(".")]
    return any(is_table_file(e.name) for e in found) and not any(e.is_dir() for e in found)


def table_files(path: str, key: str = "data.path") -> list[str]:
    """The files of the table at ``path`` (``key`` names its setting): the file, or a folder's
    ``.csv`` (or ``.parquet``) files, sorted; ``TableError`` where there are none."""
    root = os.path.expanduser(path)
    if os.path.isfile(root):
        if not is_table_file(root):
            raise TableError(key, f"{path!r} is not a table; give a {' or '.join(TABLE_SUFFIXES)} file")
        return [root]
    if not os.path.isdir(root):
        raise TableError(key, f"no file or folder at {path!r}; give a .csv or .parquet file, or a folder of them")
    files = sorted(os.path.join(root, name) for name in os.listdir(root) if is_table_file(name))
    kinds = {os.path.splitext(file)[1].lower() for file in files}
    if not files or len(kinds) > 1:
        found = "holds no" if not files else "holds both .csv and"
        raise TableError(
            key, f"the folder {path!r} {found} .parquet files; give a folder of tables of one kind, or a file"
        )
    return files


def columns(file: str) -> list[str]:
    """The column names of a table file, from its header."""
    if file.lower().endswith(".parquet"):
        import pyarrow.parquet as pq  # a Parquet file's schema; pyarrow is 0.2 s to import, no TensorFlow

        return list(pq.read_schema(file).names)
    with open(file, newline="", encoding="utf-8", errors="replace") as opened:
        return next(csv.reader(opened), [])


def row_count_is_zero(file: str) -> bool:
    """Whether a table file holds no rows: a Parquet file by its metadata, a CSV file without a
    line under its header."""
    if file.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.ParquetFile(file).metadata.num_rows == 0
    with open(file, encoding="utf-8", errors="replace") as opened:
        lines = (line for line in opened if line.strip())
        return next(lines, None) is None or next(lines, None) is None


def check_table(key: str, path: str, targets: Sequence[str], features: Sequence[str] = ()) -> list[str]:
    """The files of the table at ``path`` (``key`` names its setting), checked: each has rows,
    and the columns ``targets`` and ``features`` name; ``TableError`` naming what is wrong."""
    files = table_files(path, key)
    found = columns(files[0])
    if not found:
        raise TableError(key, f"{path!r} is an empty table (no header); give a table with a header row and rows")
    empty = [file for file in files if row_count_is_zero(file)]
    if len(empty) == len(files):
        raise TableError(
            key, f"{path!r} is an empty table: its header names {len(found)} columns, but it holds no rows"
        )
    for setting, names in (("data.target", targets), ("data.features", features)):
        missing = [name for name in names if name not in found]
        if missing:
            raise TableError(
                key,
                f"{setting} names {', '.join(map(repr, missing))}, which {path!r} has no column of; its columns "
                f"are {', '.join(found)}",
            )
    slashed = [name for name in (features or [c for c in found if c not in targets]) if "/" in name]
    if slashed:  # each input column becomes a keras.Input of its name, and Keras refuses a '/' in a name
        raise TableError(
            key,
            f"the columns {', '.join(map(repr, slashed))} of {path!r} hold a '/', which Keras does not allow in the "
            "name of the model input each column becomes; rename them in the table (such as "
            f"{slashed[0].replace('/', '_')!r}), or leave them out by naming the others in data.features",
        )
    return files
