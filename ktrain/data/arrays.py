"""Data held in memory as NumPy arrays: scikit-learn's digits, a user's .npz file, random tensors.

These modules import neither TensorFlow nor Keras: Keras batches the arrays itself, on any
backend.
"""

import logging
import os
from collections.abc import Sequence

import numpy as np

from ktrain.data import SPLITS, DataSpec, Lineage, Split, array_length, map_arrays
from ktrain.data.lineage import arrays_digest, arrays_schema, class_profile
from ktrain.data.splits import Arrays, complete_splits, stratified_split
from ktrain.errors import UserError
from ktrain.tasks import TASKS, Target, guess_kind

log = logging.getLogger(__name__)


class ArrayData:
    """Splits of in-memory arrays, with the spec a model is built from.

    ``splits`` maps "train", "val" and "test" to ``(x, y)``: arrays, or dicts of arrays by input
    name and by target name; ``targets`` are what ``y`` holds (one ``Target``, or one per key).
    """

    def __init__(self, splits: dict[str, Arrays], targets: Sequence[Target], batch_size: int, facts=None, source=None):
        self.batch_size = batch_size
        self.source = source or f"{type(self).__module__}.{type(self).__name__}"
        self._splits = splits
        x_train = splits["train"][0]
        shapes = map_arrays(lambda values: tuple(values.shape[1:]), x_train)
        self.spec = DataSpec(
            input_shape=None if isinstance(shapes, dict) else shapes,
            inputs=shapes if isinstance(shapes, dict) else None,
            targets=tuple(targets),
            split_sizes={name: array_length(splits[name][1]) for name in SPLITS},
            facts=dict(facts or {}),
        )

    def split(self, name: str) -> Split:
        x, y = self._splits[name]
        return Split(x, y, self.batch_size)

    def lineage(self, name: str) -> Lineage:
        """Where split ``name`` comes from: ``self.source`` (the file, or the class that makes the
        data), a digest of its arrays, their schema, its rows and (train) its classes."""
        x, y = self._splits[name]
        profile = {"rows": array_length(y), **(class_profile(self.spec.targets) if name == "train" else {})}
        return Lineage(self.source, arrays_digest(x, y), arrays_schema(x, y), profile)


def class_data(splits: dict[str, Arrays], class_names: Sequence[str]) -> tuple[dict[str, Arrays], Target]:
    """``splits`` of class indices, and their target."""
    target, labels = TASKS["class"].from_values("label", {s: y for s, (_, y) in splits.items()}, class_names)
    return {split: (x, labels[split]) for split, (x, _) in splits.items()}, target


class DigitsData(ArrayData):
    """scikit-learn's bundled 8x8 digits as 8x8x1 pixel values in [0, 255], split stratified."""

    def __init__(
        self,
        batch_size: int = 32,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ):
        from sklearn.datasets import load_digits  # scikit-learn: half a second, for this data set only

        digits = load_digits()
        x = (digits.images[..., np.newaxis] * (255.0 / 16.0)).astype("float32")
        y = digits.target.astype("int64")
        splits, target = class_data(stratified_split(x, y, val_fraction, test_fraction, seed), digits.target_names)
        super().__init__(splits, [target], batch_size)


class SyntheticData(ArrayData):
    """Random pixel values and labels of a given shape: for smoke tests and benchmarks."""

    def __init__(
        self,
        input_shape: Sequence[int] = (32, 32, 3),
        num_classes: int = 10,
        samples: int = 512,
        batch_size: int = 32,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ):
        rng = np.random.default_rng(seed)
        x = rng.uniform(0, 255, size=(samples, *input_shape)).astype("float32")
        y = np.arange(samples) % num_classes  # every class present, so the split can stratify
        split = stratified_split(x, rng.permutation(y), val_fraction, test_fraction, seed)
        splits, target = class_data(split, [str(c) for c in range(num_classes)])
        super().__init__(splits, [target], batch_size)


class NpzData(ArrayData):
    """A user's arrays from one .npz file.

    The file holds ``x`` and ``y`` (split here), or ``x_train`` and ``y_train`` with optional
    ``x_val``/``y_val`` and ``x_test``/``y_test`` (the layout of keras.datasets files; a missing
    split is taken from the training arrays). ``(n, height, width)`` images get a channel axis.

    ``y`` is one target, whose kind ``target_kind`` gives, or is guessed from the values
    (``ktrain.tasks.guess_kind``: integer masks, 0/1 rows, one-hot rows, 0/1 labels, class
    indices, numbers); the guess is logged. A class or binary target is split stratified.
    ``class_names`` (or the file's ``class_names`` array) names the classes, the labels of a
    multi-label target, or the columns of a number target.
    """

    def __init__(
        self,
        path: str,
        batch_size: int = 32,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        class_names: Sequence[str] | None = None,
        seed: int = 0,
        target_kind: str | None = None,
    ):
        path = os.path.expanduser(path)
        where = f"data.path={path!r}"
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (OSError, ValueError) as error:
            raise UserError(f"{where} is not a readable .npz file ({error}).") from error
        if class_names is None and "class_names" in arrays:
            class_names = [str(c) for c in arrays["class_names"]]
        values = arrays.get("y", arrays.get("y_train"))
        kind, why = (
            (target_kind, "data.target_kind")
            if target_kind
            else guess_kind(values if values is not None else np.zeros(0))
        )
        if not target_kind:
            why = f"guessed from y: {why}; data.target_kind=... sets it"
        log.info("data: %s holds a %s target (%s)", path, kind, why)
        task = TASKS[kind]
        splits = _npz_splits(where, arrays, (val_fraction, test_fraction, seed), task.stratify)
        target, values = task.from_values("label", {s: y for s, (_, y) in splits.items()}, class_names, where)
        splits = {split: (x, values[split]) for split, (x, _) in splits.items()}
        super().__init__(splits, [target], batch_size, facts={"target_kind": f"{kind} ({why})"}, source=path)


def _npz_splits(where: str, arrays, fractions: tuple, stratify) -> dict[str, Arrays]:
    val_fraction, test_fraction, seed = fractions

    def pair(x_key: str, y_key: str) -> Arrays:
        return _checked_arrays(where, x_key, arrays[x_key], y_key, arrays[y_key])

    if "x" in arrays and "y" in arrays:
        return complete_splits(pair("x", "y"), {}, val_fraction, test_fraction, seed, stratify)
    if "x_train" not in arrays or "y_train" not in arrays:
        raise UserError(
            f"{where} holds the arrays {sorted(arrays)}; it needs 'x' and 'y', or "
            "'x_train' and 'y_train' (with optional 'x_val'/'y_val' and 'x_test'/'y_test')."
        )
    given = {name: pair(f"x_{name}", f"y_{name}") for name in ("val", "test") if f"x_{name}" in arrays}
    return complete_splits(pair("x_train", "y_train"), given, val_fraction, test_fraction, seed, stratify)


def _checked_arrays(where: str, x_key: str, x: np.ndarray, y_key: str, y: np.ndarray) -> Arrays:
    if len(x) != len(y):
        raise UserError(f"{where}: {x_key} has {len(x)} samples but {y_key} has {len(y)}; they must match.")
    if not np.issubdtype(x.dtype, np.number):
        raise UserError(f"{where}: {x_key} has dtype {x.dtype}; inputs must be numeric.")
    if x.ndim == 3:  # (n, height, width) grayscale images
        x = x[..., np.newaxis]
    return x.astype("float32"), y
