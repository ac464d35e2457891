"""A table's target columns: what a pass over them finds (``Tally``), the ``Target`` they make,
and a block's target values as the model's loss takes them.

One column is a ``class`` target (strings, or integers 0..N-1), ``binary`` (0 and 1) or
``number``, guessed from the values as ``data=npz`` guesses (``ktrain.tasks.guess_kind``) or
as ``data.target_kind`` says; several columns are one ``multi_label`` target (each 0 or 1)
or one ``number`` target of several values.
"""

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ktrain.data.table_files import TableError
from ktrain.tasks import Target, guess_kind
from ktrain.tasks.target import RESERVED_PREFIX

MAX_CLASSES = 1000  # distinct values of a target column counted; beyond them it can only be numbers


@dataclass
class Tally:
    """What one split's rows hold in one target column: each value's count (None beyond
    ``MAX_CLASSES`` values), whether every value is a number, and the lowest and highest."""

    counts: dict[str, int] | None = field(default_factory=dict)
    numeric: bool = True
    low: float = math.inf
    high: float = -math.inf

    def add(self, values: pa.Array) -> None:
        """Count ``values`` (strings, none missing)."""
        if self.counts is not None:
            found = pc.value_counts(values)
            counts = Counter(self.counts)
            counts.update(dict(zip(found.field("values").to_pylist(), found.field("counts").to_pylist())))
            self.counts = dict(counts) if len(counts) <= MAX_CLASSES else None
        if self.numeric:
            try:
                numbers = values.cast(pa.float64())
            except pa.ArrowInvalid:
                self.numeric = False
                return
            if len(numbers):
                self.low = min(self.low, pc.min(numbers).as_py())
                self.high = max(self.high, pc.max(numbers).as_py())

    def as_dict(self) -> dict:
        return {"counts": self.counts, "numeric": self.numeric, "low": self.low, "high": self.high}


def tally(values: dict) -> Tally:
    return Tally(values["counts"], values["numeric"], values["low"], values["high"])


def target_of(names: Sequence[str], tallies: Mapping[str, Mapping[str, Tally]], kind: str | None) -> tuple[Target, str]:
    """The target of the columns ``names`` from each split's tallies (split -> column ->
    ``Tally``), of ``kind`` or guessed; and how its kind was found."""
    merged = {name: _merged([split[name] for split in tallies.values()]) for name in names}
    train = {name: tallies["train"][name] for name in names}
    if len(names) > 1:
        return _several(names, merged, train, kind)
    name, found = names[0], merged[names[0]]
    why = "data.target_kind"
    if kind is None:
        kind, why = _guess(found)
        why = f"guessed from the column {name!r}: {why}; data.target_kind=... sets it"
    label = name if name and not name.startswith(RESERVED_PREFIX) else "label"
    if kind == "number":
        _need_numbers(name, found, kind)
        return Target(label, "number", (), columns=(name,), value_range=(train[name].low, train[name].high)), why
    if kind == "multi_label":
        raise TableError(
            "data.target",
            f"a multi-label target is several columns of 0 and 1, one per label: data.target=[{name},...]",
        )
    if kind == "binary":
        return _binary(label, name, found, train[name]), why
    classes = _classes(name, found)
    counts = tuple(train[name].counts.get(c, 0) for c in classes)
    return Target(label, kind, (), classes, counts), why


def _binary(label: str, name: str, found: Tally, train: Tally) -> Target:
    values = {v: float(v) for v in found.counts or {}} if found.numeric else {}
    if found.counts is None or not values or not set(values.values()) <= {0.0, 1.0}:
        shown = ", ".join(list(found.counts or {})[:5]) or "many values"
        raise TableError(
            "data.target",
            f"the binary target {name!r} must hold 0 and 1, and it holds {shown}; give "
            "data.target_kind=class for a column of class names",
        )
    counts = [sum(n for v, n in (train.counts or {}).items() if values.get(v) == one) for one in (0.0, 1.0)]
    return Target(label, "binary", (), ("0", "1"), tuple(counts))


def _several(names, merged, train, kind) -> tuple[Target, str]:
    why = "data.target_kind"
    if kind is None:
        zero_one = all(
            t.numeric and t.counts is not None and set(map(float, t.counts)) <= {0, 1} for t in merged.values()
        )
        kind = "multi_label" if zero_one else "number"
        why = f"guessed from the columns {', '.join(names)}: " + ("each 0 or 1" if zero_one else "numbers")
    for name in names:
        _need_numbers(name, merged[name], kind)
    if kind == "number":
        low, high = min(t.low for t in train.values()), max(t.high for t in train.values())
        return Target("label", "number", (len(names),), columns=tuple(names), value_range=(low, high)), why
    if kind != "multi_label":
        raise TableError(
            "data.target",
            f"several target columns ({', '.join(names)}) make one multi_label target (each column 0 or 1) or "
            f"one number target, not {kind}; give one column for a {kind} target",
        )
    counts = tuple(int(sum(n for v, n in (train[name].counts or {}).items() if float(v) == 1)) for name in names)
    return Target("label", "multi_label", (len(names),), tuple(names), counts), why


def _merged(tallies: Sequence[Tally]) -> Tally:
    counts = None if any(t.counts is None for t in tallies) else Counter()
    for t in tallies:
        if counts is not None:
            counts.update(t.counts)
    low, high = min(t.low for t in tallies), max(t.high for t in tallies)
    return Tally(dict(counts) if counts is not None else None, all(t.numeric for t in tallies), low, high)


def _guess(found: Tally) -> tuple[str, str]:
    """The kind of a column, by ``guess_kind``'s rules, from its values' counts."""
    if not found.numeric:
        return "class", "strings"
    if found.counts is None:
        return "number", f"numbers of more than {MAX_CLASSES} values"
    values = np.array([float(v) for v in found.counts])
    repeated = np.repeat(values, [min(found.counts[v], 2) for v in found.counts])  # enough to tell 1 from 2+
    if repeated.size and np.all(np.mod(repeated, 1) == 0):
        repeated = repeated.astype("int64")
    return guess_kind(repeated)


def _need_numbers(name: str, found: Tally, kind: str) -> None:
    if found.numeric and (kind != "multi_label" or set(map(float, found.counts or {})) <= {0, 1}):
        return
    takes = "0 or 1 in each row" if kind == "multi_label" else "numbers"
    raise TableError(
        "data.target",
        f"the {kind} target column {name!r} must hold {takes}, and it holds other values; give "
        "data.target_kind=class for a column of class names",
    )


def _classes(name: str, found: Tally) -> tuple[str, ...]:
    if found.counts is None:
        raise TableError(
            "data.target",
            f"the class target {name!r} holds more than {MAX_CLASSES} distinct values; give "
            "data.target_kind=number if they are numbers",
        )
    if found.numeric:
        return tuple(sorted(found.counts, key=float))
    return tuple(sorted(found.counts))


def target_values(batch: pa.RecordBatch, target: Target, names: Sequence[str]) -> np.ndarray:
    """A block's values of ``target`` (its columns ``names``, read as strings) as its task's
    loss takes them: class indices, 0/1 floats, rows of 0/1 floats, numbers."""
    if target.kind == "class":
        return pc.index_in(batch.column(names[0]), value_set=pa.array(target.classes)).to_numpy().astype("int64")
    values = [batch.column(name).cast(pa.float32()).to_numpy(zero_copy_only=False) for name in names]
    return values[0] if len(values) == 1 and not target.shape else np.stack(values, axis=1)
