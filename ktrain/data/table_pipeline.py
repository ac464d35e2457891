"""A table split's rows as a tf.data pipeline of ``(columns by name, target)`` batches, read
from disk at every pass.

The rows stay in Arrow until a batch is cut: a window of blocks (``SHUFFLE_ROWS`` rows for
the training split, shuffled together by Arrow's ``take``, another order every pass; a batch
for the others) is cut into batches, whose number columns become float32 arrays and whose
string columns travel as one bytes object and the strings' lengths, split into a string
tensor by ``tf.strings.substr`` in the graph. A string per row as a Python object cost 150 MB
more on a million rows of 22 columns, and its time. Rows left over at a window's end start the
next one; each batch is full but the last.
"""

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import tensorflow as tf

from ktrain.data.table_reading import STRINGS, arrow_type, blocks, release, row_draws, with_values
from ktrain.data.table_scan import SplitRows
from ktrain.data.table_targets import target_values
from ktrain.tasks import Target

SHUFFLE_ROWS = 16384  # the training rows shuffled together: 65,536 took 85 MB more on 22 columns


@dataclass(frozen=True)
class RowSource:
    """What a split reads: its rows, its feature columns' kinds, its target columns and target,
    and the seed of its rows' draws."""

    rows: SplitRows
    kinds: dict[str, str]
    names: list[str]
    target: Target
    seed: int

    def types(self) -> dict[str, pa.DataType]:
        return {**{n: arrow_type(k) for n, k in self.kinds.items()}, **{n: pa.string() for n in self.names}}


def batches(source: RowSource, batch_size: int, size: int, shuffle: bool) -> tf.data.Dataset:
    """The batches of one pass over ``source`` (``size`` rows), shuffled where ``shuffle``."""
    strings = (tf.TensorSpec((), tf.string), tf.TensorSpec((None,), tf.int32))
    x_spec = {n: strings if k in STRINGS else tf.TensorSpec((None, 1), tf.float32) for n, k in source.kinds.items()}
    target = source.target
    y_shape = (None, *target.shape) if target.kind != "number" or target.shape else (None,)
    y_spec = tf.TensorSpec(y_shape, tf.int64 if target.kind == "class" else tf.float32)
    dataset = tf.data.Dataset.from_generator(_Pass(source, batch_size, shuffle), output_signature=(x_spec, y_spec))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(math.ceil(size / batch_size)))
    return dataset.map(_unpacked, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class _Pass:
    """One pass over a split's rows, as packed batches: called by tf.data at every epoch."""

    def __init__(self, source: RowSource, batch_size: int, shuffle: bool):
        self.source, self.batch_size, self.shuffle, self.passes = source, batch_size, shuffle, 0

    def __call__(self):
        order = np.random.default_rng([self.source.seed, self.passes]) if self.shuffle else None
        self.passes += 1
        window = SHUFFLE_ROWS if self.shuffle else self.batch_size
        pending: list[pa.RecordBatch] = []
        for block in self._blocks():
            pending.append(block)
            if sum(b.num_rows for b in pending) >= window:
                rows = _joined(pending, order)
                full = rows.num_rows - rows.num_rows % self.batch_size
                yield from self._cut(rows.slice(0, full))
                pending = rows.slice(full).to_batches()
        if sum(b.num_rows for b in pending):
            yield from self._cut(_joined(pending, order))
        release()

    def _blocks(self):
        """Each block's rows of this split that have a target."""
        rows, start = self.source.rows, 0
        for block in blocks(rows.files, self.source.types()):
            chosen = (
                np.ones(block.num_rows, bool)
                if rows.whole
                else rows.mask(row_draws(start, block.num_rows, self.source.seed))
            )
            start += block.num_rows
            yield block.filter(pa.array(chosen & with_values(block, self.source.names)))

    def _cut(self, rows: pa.Table):
        """The batches of ``rows``, packed: numbers as float32 (rows, 1), strings as (bytes,
        lengths), the target as its task's loss takes it."""
        for start in range(0, rows.num_rows, self.batch_size):
            batch = rows.slice(start, self.batch_size).combine_chunks().to_batches()[0]
            x = {}
            for name, kind in self.source.kinds.items():
                column = batch.column(name)
                if kind in STRINGS:
                    x[name] = _packed(column.fill_null(""))
                else:
                    x[name] = column.cast(pa.float32()).to_numpy(zero_copy_only=False).reshape(-1, 1)
            yield x, target_values(batch, self.source.target, self.source.names)


def _joined(pending: list[pa.RecordBatch], order: np.random.Generator | None) -> pa.Table:
    rows = pa.Table.from_batches(pending)
    return rows if order is None else rows.take(pa.array(order.permutation(rows.num_rows)))


def _packed(strings: pa.Array) -> tuple[bytes, np.ndarray]:
    """A string array as its bytes, joined, and each string's length."""
    offsets = np.frombuffer(strings.buffers()[1], np.int32, len(strings) + 1, strings.offset * 4)
    data = strings.buffers()[2]
    joined = data[offsets[0] : offsets[-1]].to_pybytes() if data is not None else b""
    return joined, np.diff(offsets).astype(np.int32)


def _unpacked(x: dict, y):
    """Packed strings as string tensors shaped (rows, 1)."""
    found = {}
    for name, value in x.items():
        if isinstance(value, tuple):
            joined, lengths = value
            found[name] = tf.reshape(tf.strings.substr(joined, tf.cumsum(lengths, exclusive=True), lengths), (-1, 1))
        else:
            found[name] = value
    return found, y
