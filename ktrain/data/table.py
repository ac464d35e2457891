"""A table on disk, a CSV or Parquet file (or a folder of them), streamed with pyarrow and
tf.data: ``data=table``.

The columns the target does not name are the features, each a ``number``, a ``category`` or a
``text`` (inferred from the first block, or as ``features`` says; ``skip`` leaves one out). The
model takes each as an input of its name, one raw value per row, and preprocesses it itself
(``ktrain.models.tabular``: its layers adapt on a bounded sample of the training rows), so the
saved model takes a table's raw rows. Rows are read a block at a time, in every pass: a table
never has to fit in memory (``table_pipeline``). A split is given its own files, or takes a seeded random share of
the training file's rows (not stratified: the rows stream). Rows without a target are left out.
"""

import dataclasses
import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence

from ktrain.data import SPLITS, Column, DataSpec, Lineage, Split
from ktrain.data.lineage import class_profile
from ktrain.data.table_files import TableError, check_table
from ktrain.data.table_pipeline import RowSource, batches
from ktrain.data.table_reading import STRINGS, column_kind, first_block, inputs_of
from ktrain.data.table_scan import Scan, scan, split_rows
from ktrain.data.table_targets import target_of
from ktrain.errors import UserError

log = logging.getLogger(__name__)


class TableData:
    """A table's splits as tf.data pipelines of ``(columns by name, target)`` batches.

    Args:
        path: a ``.csv`` or ``.parquet`` file, or a folder of them (read in name order).
        target: the target column, or a list of them (a multi-label or several-number target).
        target_kind: ``class``, ``binary``, ``multi_label`` or ``number``; None: guessed.
        features: column -> ``number``, ``category``, ``text`` or ``skip``, over the inference.
        val_path, test_path: files of their own for the val and test splits; else each takes
            ``val_fraction`` / ``test_fraction`` of the training file's rows.
        sample_rows: the training rows (a seeded random sample) the preprocessing adapts on.
    """

    def __init__(
        self,
        path: str,
        target: str | Sequence[str],
        batch_size: int = 256,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        val_path: str | None = None,
        test_path: str | None = None,
        target_kind: str | None = None,
        features: Mapping[str, str] | None = None,
        sample_rows: int = 50_000,
        seed: int = 0,
    ):
        self.batch_size, self.seed, self.source = batch_size, seed, os.path.expanduser(path)
        self.targets = [target] if isinstance(target, str) else list(target)
        features = dict(features or {})
        files = {"train": check_table("data.path", path, self.targets, features)}
        for split, given in (("val", val_path), ("test", test_path)):
            files[split] = check_table(f"data.{split}_path", given, self.targets, features) if given else None
        self.paths = {"train": self.source, "val": val_path or self.source, "test": test_path or self.source}
        kinds = _kinds(files["train"], self.targets, features)
        _refuse_strings_off_tensorflow(kinds)
        self._rows = split_rows(files, val_fraction, test_fraction)
        found_scan = scan(self._rows, kinds, self.targets, seed, sample_rows)
        _refuse_empty_splits(found_scan, self.paths)
        sample = inputs_of(found_scan.sample.combine_chunks().to_batches()[0], kinds)
        columns = tuple(Column(name, kind, sample[name][:, 0]) for name, kind in kinds.items())
        self._scan = dataclasses.replace(found_scan, sample=None)  # the columns hold what adapts on it
        found, why = target_of(self.targets, self._scan.tallies, target_kind)
        facts = {"target_kind": f"{found.kind} ({why})", "columns": ", ".join(f"{n} {k}" for n, k in kinds.items())}
        log.info("data: %s: columns %s; target %s", path, facts["columns"], facts["target_kind"])
        if any(self._scan.dropped.values()):
            facts["rows_without_target"] = json.dumps(self._scan.dropped)
            where = ", ".join(f"{count} {split}" for split, count in self._scan.dropped.items() if count)
            log.info("data: %d rows without a target value left out (%s)", sum(self._scan.dropped.values()), where)
        self.spec = DataSpec(
            inputs=dict.fromkeys(kinds, (1,)),
            targets=(found,),
            split_sizes=dict(self._scan.rows),
            facts=facts,
            columns=columns,
        )

    def split(self, name: str) -> Split:
        kinds = {column.name: column.kind for column in self.spec.columns}
        rows = RowSource(self._rows[name], kinds, self.targets, self.spec.targets[0], self.seed)
        dataset = batches(rows, self.batch_size, self.spec.split_sizes[name], shuffle=name == "train")
        return Split(dataset, steps=math.ceil(self.spec.split_sizes[name] / self.batch_size))

    def lineage(self, name: str) -> Lineage:
        """Split ``name``: its files, a digest of their bytes and of the rows it takes of them,
        each column's type, its rows and (train) its classes."""
        rows = self._rows[name]
        taken = {"digests": [self._scan.digests[file] for file in rows.files], "targets": self.targets}
        if not rows.whole:
            taken.update(low=rows.low, high=rows.high, seed=self.seed)
        digest = hashlib.sha256(json.dumps(taken, sort_keys=True).encode()).hexdigest()[:16]
        schema = {c.name: ("str" if c.kind in STRINGS else "float32", (1,)) for c in self.spec.columns}
        target = self.spec.targets[0]
        schema[target.name] = ("int64" if target.kind == "class" else "float32", target.shape)
        profile = {"rows": self._scan.rows[name], "columns": {c.name: c.kind for c in self.spec.columns}}
        if self._scan.dropped[name]:
            profile["rows_without_target"] = self._scan.dropped[name]
        if name == "train":
            profile.update(class_profile(self.spec.targets))
        return Lineage(self.paths[name], digest, schema, profile)


def _kinds(files: list[str], targets: list[str], features: dict[str, str]) -> dict[str, str]:
    """Each feature column's kind: as ``features`` says, else inferred from the first block."""
    block = first_block(files)
    kinds = {}
    for name in block.schema.names:
        if name in targets or features.get(name) == "skip":
            continue
        kinds[name] = features.get(name) or column_kind(name, block.column(name))
    if not kinds:
        raise TableError(
            "data.features", "no feature column is left beside the target; a table needs one input column at least"
        )
    return kinds


def _refuse_strings_off_tensorflow(kinds: dict[str, str]) -> None:
    import keras

    strings = [name for name, kind in kinds.items() if kind in STRINGS]
    if strings and keras.backend.backend() != "tensorflow":
        raise UserError(
            f"data=table: the columns {', '.join(strings)} hold strings, which the model's StringLookup and "
            f"TextVectorization layers take on the TensorFlow backend only, and KERAS_BACKEND is "
            f"{keras.backend.backend()}; run on tensorflow, or give data.features.<column>=skip."
        )


def _refuse_empty_splits(found: Scan, paths: dict[str, str]) -> None:
    empty = [split for split in SPLITS if not found.rows[split]]
    if empty:
        raise UserError(
            f"data.path={paths['train']!r}: the {' and '.join(empty)} split{'s hold' if len(empty) > 1 else ' holds'} "
            f"no rows with a target ({found.rows} rows, {found.dropped} left out without one). Give a table with "
            "more rows, larger data.val_fraction / data.test_fraction, or data.val_path / data.test_path."
        )
