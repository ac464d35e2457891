"""The pieces of a split's ``Lineage`` that data modules share: a digest of arrays, their schema,
and the classes' counts of the training split."""

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ktrain.tasks import Target


def class_profile(targets: tuple[Target, ...]) -> dict[str, Any]:
    """The training samples of each class of each target that has counts."""
    return {
        f"{target.name}_counts": dict(zip(target.classes, target.counts))
        for target in targets
        if target.counts and target.classes
    }


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
