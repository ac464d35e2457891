"""One pass over a table before training: each split's rows, what its target columns hold
(``table_targets.Tally``), a bounded random sample of the training rows (what the model's
preprocessing adapts on), and a digest of each file, remembered between runs.

A split is the rows of some files whose seeded draw (``table_reading.row_draws``) falls in its
share of [0, 1), and whose target is present: the same rows in every pass, however the table
is read. The pass reads each file once for all the splits it serves, a block at a time, so its
memory is a block and the sample. Its findings are kept in the user's cache (as
``checked_files`` keeps image verdicts), keyed by each file's path, size and modification time
and the settings that change them: a second run, or every job of a sweep, reads nothing.
"""

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ktrain.data import SPLITS
from ktrain.data.checked_files import cache_dir, stamp
from ktrain.data.table_reading import arrow_type, blocks, release, row_draws, with_values
from ktrain.data.table_targets import Tally, tally

log = logging.getLogger(__name__)

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class SplitRows:
    """The rows of a split: those of ``files`` whose draw falls in [``low``, ``high``)."""

    files: tuple[str, ...]
    low: float = 0.0
    high: float = 1.0

    @property
    def whole(self) -> bool:
        return self.low == 0.0 and self.high == 1.0

    def mask(self, draws: np.ndarray) -> np.ndarray:
        return (draws >= self.low) & (draws < self.high)


def split_rows(files: dict[str, list[str] | None], val_fraction: float, test_fraction: float) -> dict[str, SplitRows]:
    """Each split's rows: a split given its own files (``files["val"]``, ``files["test"]``)
    reads them whole; the others take their fraction of the training files' rows."""
    taken = {
        split: fraction for split, fraction in (("test", test_fraction), ("val", val_fraction)) if not files[split]
    }
    rows, low = {}, 0.0
    for split, fraction in taken.items():
        rows[split] = SplitRows(tuple(files["train"]), low, low + fraction)
        low += fraction
    rows["train"] = SplitRows(tuple(files["train"]), low, 1.0)
    rows.update({split: SplitRows(tuple(files[split])) for split in ("val", "test") if files[split]})
    return {split: rows[split] for split in SPLITS}


@dataclass(frozen=True)
class Scan:
    """What the pass found: each split's rows and the rows left out (no target), each split's
    tallies of the target columns, the training sample, and a digest of each file."""

    rows: dict[str, int]
    dropped: dict[str, int]
    tallies: dict[str, dict[str, Tally]]
    sample: pa.Table | None
    digests: dict[str, str]


def scan(
    rows: dict[str, SplitRows], kinds: dict[str, str], targets: Sequence[str], seed: int, sample_rows: int
) -> Scan:
    """The scan of a table's splits, from the cache where it holds one for these files and
    settings, else by a pass over the files (then cached)."""
    settings = {"rows": {s: [r.files, r.low, r.high] for s, r in rows.items()}, "kinds": kinds, "targets": targets}
    settings.update(seed=seed, sample_rows=sample_rows)
    files = sorted({file for split in rows.values() for file in split.files})
    key = json.dumps({**settings, "stamps": {file: stamp(file) for file in files}}, sort_keys=True)
    path = cache_dir() / "table_scans" / hashlib.sha256(key.encode()).hexdigest()[:16]
    found = _cached(path)
    if found is not None:
        log.info("data: the table's scan is known from an earlier run (%s)", path.with_suffix(".json"))
        return found
    found = _scanned(rows, kinds, targets, seed, sample_rows)
    _keep(path, found)
    return found


def _scanned(rows, kinds, targets, seed, sample_rows) -> Scan:
    types = {**{name: arrow_type(kind) for name, kind in kinds.items()}, **dict.fromkeys(targets, pa.string())}
    counted = {split: 0 for split in rows}
    dropped = {split: 0 for split in rows}
    tallies = {split: {name: Tally() for name in targets} for split in rows}
    sample = _Sample(sample_rows)
    for files in dict.fromkeys(split.files for split in rows.values()):
        served = {name: split for name, split in rows.items() if split.files == files}
        start = 0
        for batch in blocks(files, types):
            draws = row_draws(start, batch.num_rows, seed)
            sampling = row_draws(start, batch.num_rows, seed + 1)  # another stream: the sample's order
            start += batch.num_rows
            present = with_values(batch, targets)
            for name, split in served.items():
                chosen = split.mask(draws)  # every row where the split is whole: the draws are in [0, 1)
                dropped[name] += int((chosen & ~present).sum())
                kept_rows = chosen & present
                kept = batch.filter(pa.array(kept_rows))
                counted[name] += kept.num_rows
                for column in targets:
                    tallies[name][column].add(kept.column(column))
                if name == "train":
                    sample.add(kept.select(list(kinds)), sampling[kept_rows])
    digests = {file: _digest(file) for split in rows.values() for file in split.files}
    release()
    return Scan(counted, dropped, tallies, sample.table(), digests)


class _Sample:
    """A uniform random sample of at most ``size`` rows of a stream: those with the lowest
    draws (bottom-k sampling), kept as the blocks go by."""

    def __init__(self, size: int):
        self.size = size
        self.rows: pa.Table | None = None
        self.draws = np.zeros(0)

    def add(self, batch: pa.RecordBatch, draws: np.ndarray) -> None:
        if len(self.draws) >= self.size:  # only rows that would enter the sample are kept
            keep = draws < self.draws.max()
            batch, draws = batch.filter(pa.array(keep)), draws[keep]
        table = pa.Table.from_batches([batch])
        rows = table if self.rows is None else pa.concat_tables([self.rows, table])
        draws = np.concatenate([self.draws, draws])
        if len(draws) > self.size:
            keep = np.sort(np.argpartition(draws, self.size)[: self.size])
            rows, draws = rows.take(pa.array(keep)), draws[keep]
        self.rows, self.draws = rows.combine_chunks(), draws

    def table(self) -> pa.Table:
        return self.rows if self.rows is not None else pa.table({})


def _digest(file: str) -> str:
    hashed = hashlib.sha256()
    with open(file, "rb") as opened:
        while chunk := opened.read(HASH_CHUNK):
            hashed.update(chunk)
    return hashed.hexdigest()[:16]


def _cached(path) -> Scan | None:
    try:
        found = json.loads(path.with_suffix(".json").read_text())
        sample = pq.read_table(path.with_suffix(".parquet"))
    except (OSError, ValueError, pa.ArrowException):
        return None
    tallies = {split: {name: tally(t) for name, t in named.items()} for split, named in found["tallies"].items()}
    return Scan(found["rows"], found["dropped"], tallies, sample, found["digests"])


def _keep(path, found: Scan) -> None:
    """The scan written to the cache, each file replaced whole: a race costs a pass again."""
    tallies = {split: {name: t.as_dict() for name, t in named.items()} for split, named in found.tallies.items()}
    record = {"rows": found.rows, "dropped": found.dropped, "tallies": tallies, "digests": found.digests}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        pq.write_table(found.sample, temporary)
        os.replace(temporary, path.with_suffix(".parquet"))
        temporary.write_text(json.dumps(record))
        os.replace(temporary, path.with_suffix(".json"))
    except (OSError, pa.ArrowException) as error:
        log.warning("data: cannot keep the table's scan at %s (%s); the next run reads the table again", path, error)
