"""A table read from disk a block at a time, with pyarrow: its columns' kinds inferred from a
first block, each block's rows assigned to a split, and a block as the model's inputs.

pyarrow reads CSV (in parallel, by blocks of ``BLOCK_BYTES``) and Parquet (by record batches)
alike, so a table never has to fit in memory, and one path serves both formats. A feature
column is a ``number`` (float32, NaN where missing), a ``category`` or a ``text`` (strings,
"" where missing): the model takes each as an input of its name, one value per row
(``ktrain.models.tabular``). No TensorFlow here.
"""

import os
import re
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from ktrain.data.table_files import TableError, columns

BLOCK_BYTES = 1 << 20  # a CSV block: about 10,000 rows of ten columns; 4 MiB blocks took 75 MB more, no faster
BATCH_ROWS = 16384  # a Parquet record batch
TEXT_WORDS = 3  # a string column whose values hold this many words on average is text, else a category
STRINGS = ("category", "text")


def blocks(
    files: Sequence[str], types: Mapping[str, pa.DataType], setting: str = "data.path"
) -> Iterator[pa.RecordBatch]:
    """The record batches of ``files`` in order, with the columns of ``types`` (and no other)
    of those types; ``TableError`` naming a column whose values are not of its type. pyarrow
    keeps what it allocated for reuse: ``release`` hands it back once a pass is over."""
    for file in files:
        try:
            if file.lower().endswith(".parquet"):
                for batch in pq.ParquetFile(file).iter_batches(batch_size=BATCH_ROWS, columns=list(types)):
                    yield pa.RecordBatch.from_arrays(
                        [batch.column(name).cast(types[name]) for name in types], names=list(types)
                    )
                continue
            convert = pcsv.ConvertOptions(
                column_types=dict(types), include_columns=list(types), strings_can_be_null=True
            )
            with pcsv.open_csv(file, pcsv.ReadOptions(block_size=BLOCK_BYTES), convert_options=convert) as reader:
                yield from reader
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise _unreadable(file, types, error, setting) from error


def release() -> None:
    """pyarrow's memory pool gives back what it no longer uses (after a pass over a table)."""
    pa.default_memory_pool().release_unused()


def _unreadable(file: str, types: Mapping[str, pa.DataType], error: Exception, setting: str) -> TableError:
    found = re.search(r"column #(\d+)", str(error))
    names = columns(file) if found else []
    name = names[int(found.group(1))] if found and int(found.group(1)) < len(names) else None
    if name is not None and types.get(name) == pa.float64() and setting != "data.path":  # a trained model's column
        return TableError(
            setting,
            f"the column {name!r} of {file} holds numbers and other values ({error}); the run's model "
            "reads it as numbers, as its training table held them: give numbers, or an empty cell for a "
            "missing value",
        )
    if name is not None and types.get(name) == pa.float64():
        return TableError(
            "data.path",
            f"the column {name!r} of {file} holds numbers and other values ({error}); a column holds one "
            f"type: clean the file, or give +data.features.{name}=category (or text, or skip) to read every "
            "value as a string",
        )
    return TableError(setting, f"{file} cannot be read as a table ({error})")


def first_block(files: Sequence[str]) -> pa.RecordBatch:
    """The first block of the table, every column as read (CSV: as strings)."""
    file = files[0]
    if file.lower().endswith(".parquet"):
        return next(pq.ParquetFile(file).iter_batches(batch_size=BATCH_ROWS))
    names = columns(file)
    return next(blocks([file], dict.fromkeys(names, pa.string())))


def column_kind(name: str, values: pa.Array) -> str:
    """``number``, ``category`` or ``text``: the kind of a column's first values; ``TableError``
    for a column of numbers and other values, or of a type no kind takes."""
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or pa.types.is_boolean(values.type):
        return "number"
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise TableError(
            "data.path",
            f"the column {name!r} holds {values.type} values, which no feature kind takes; give "
            f"+data.features.{name}=skip, or convert it to numbers or strings",
        )
    present = values.drop_null()
    numeric = np.array([_is_number(value) for value in present.to_pylist()[:BATCH_ROWS]], dtype=bool)
    if numeric.size and numeric.all():
        return "number"
    if numeric.any():
        examples = [v for v, n in zip(present.to_pylist(), numeric) if n][:2]
        others = [v for v, n in zip(present.to_pylist(), numeric) if not n][:2]
        raise TableError(
            "data.path",
            f"the column {name!r} holds numbers ({', '.join(map(repr, examples))}) and other values "
            f"({', '.join(map(repr, others))}); a column holds one type: clean the file, or give "
            f"+data.features.{name}=category (or text, or skip) to read every value as a string",
        )
    words = pc.mean(pc.list_value_length(pc.utf8_split_whitespace(present))).as_py() or 0.0
    return "text" if words >= TEXT_WORDS else "category"


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def arrow_type(kind: str) -> pa.DataType:
    """How a column of ``kind`` is read: numbers as float64, the others as strings."""
    return pa.float64() if kind == "number" else pa.string()


def inputs_of(batch: pa.RecordBatch, kinds: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The model's inputs of a block: each column of ``kinds`` shaped (rows, 1), numbers as
    float32 with NaN where missing, strings as objects with "" where missing."""
    found = {}
    for name, kind in kinds.items():
        values = batch.column(name)
        if kind in STRINGS:
            array = values.fill_null("").to_numpy(zero_copy_only=False)
        else:
            array = values.cast(pa.float32()).to_numpy(zero_copy_only=False)
        found[name] = array.reshape(-1, 1)
    return found


def with_values(batch: pa.RecordBatch, names: Sequence[str]) -> np.ndarray:
    """Which rows of ``batch`` hold a value in every column of ``names`` (a row without its
    target is left out of every split)."""
    present = np.ones(batch.num_rows, dtype=bool)
    for name in names:
        present &= batch.column(name).is_valid().to_numpy(zero_copy_only=False)
    return present


def row_draws(start: int, count: int, seed: int) -> np.ndarray:
    """A uniform draw in [0, 1) for each row ``start`` to ``start + count`` of a table: the
    same rows and seed give the same draws, so a split is the same rows in every pass
    (SplitMix64 of the row number)."""
    with np.errstate(over="ignore"):
        z = np.arange(start, start + count, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def file_format(files: Sequence[str]) -> str:
    return os.path.splitext(files[0])[1].lstrip(".").lower()
