"""The pieces of a split's ``Lineage`` that data modules share: a digest of arrays, their schema,
the classes' counts of the training split, and the lineage of a split of a folder's files."""

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ktrain.data import Lineage
from ktrain.tasks import Target


def class_profile(targets: tuple[Target, ...]) -> dict[str, Any]:
    """The training samples of each class of each target that has counts."""
    return {
        f"{target.name}_counts": dict(zip(target.classes, target.counts))
        for target in targets
        if target.counts and target.classes
    }


def files_lineage(
    root: str, files: Sequence[str], stamps: dict, schema: dict, rows: int, targets: tuple[Target, ...] | None
) -> Lineage:
    """The lineage of a split of a folder's ``files``: the folder, a digest of the files' names,
    sizes and modification times (``stamps``, as the file check took them: no file is read
    again), ``schema``, its ``rows`` and the classes of ``targets`` (the training split's)."""
    stamped = [(os.path.relpath(file, root), stamps.get(file)) for file in files]
    profile = {"rows": rows, **(class_profile(targets) if targets else {})}
    return Lineage(root, digest(json.dumps(stamped).encode()), schema, profile)


def arrays_digest(*arrays: Any) -> str:
    """A digest of arrays (or dicts of them): their names, dtypes, shapes and bytes."""
    hashed = hashlib.sha256()
    for name, values in _flat(arrays):
        values = np.ascontiguousarray(values)
        hashed.update(f"{name}:{values.dtype}:{values.shape}".encode())
        hashed.update(values.view(np.uint8).reshape(-1) if values.size else b"")
    return hashed.hexdigest()[:16]


def arrays_schema(x: Any, y: Any) -> dict[str, tuple[str, tuple]]:
    return {name: (str(values.dtype), tuple(values.shape[1:])) for name, values in _flat((x, y), ("input", "target"))}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _flat(values: Any, names: tuple[str, ...] = ()) -> Iterator[tuple[str, np.ndarray]]:
    """Each array of ``values`` (arrays, or tuples and dicts of them) with a name."""
    if isinstance(values, dict):
        for key, value in values.items():
            yield from _flat(value, (key,))
    elif isinstance(values, list | tuple):
        for index, value in enumerate(values):
            yield from _flat(value, (names[index],) if len(names) > index else (str(index),))
    else:
        yield (names[0] if names else "values"), np.asarray(values)
