"""Data held in memory as NumPy arrays: scikit-learn's digits, a user's .npz file, random tensors.

These modules import neither TensorFlow nor Keras: Keras batches the arrays itself, on any
backend.
"""

import os
from collections.abc import Sequence

import numpy as np

from ktrain.data import SPLITS, DataSpec, Split
from ktrain.data.splits import Arrays, complete_splits, stratified_split
from ktrain.errors import UserError


class ArrayData:
    """Splits of in-memory arrays, with the spec a model is built from.

    ``splits`` maps "train", "val" and "test" to ``(x, y)``; labels are class indices.
    """

    def __init__(self, splits: dict[str, Arrays], class_names: Sequence[str], batch_size: int):
        self.batch_size = batch_size
        self._splits = splits
        x_train, y_train = splits["train"]
        self.spec = DataSpec(
            input_shape=tuple(x_train.shape[1:]),
            num_classes=len(class_names),
            class_names=tuple(class_names),
            split_sizes={name: len(splits[name][1]) for name in SPLITS},
            class_counts=tuple(np.bincount(y_train, minlength=len(class_names)).tolist()),
        )

    def split(self, name: str) -> Split:
        x, y = self._splits[name]
        return Split(x, y, self.batch_size)


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
        splits = stratified_split(x, y, val_fraction, test_fraction, seed)
        super().__init__(splits, [str(c) for c in digits.target_names], batch_size)


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
        splits = stratified_split(x, rng.permutation(y), val_fraction, test_fraction, seed)
        super().__init__(splits, [str(c) for c in range(num_classes)], batch_size)


class NpzData(ArrayData):
    """A user's arrays from one .npz file.

    The file holds ``x`` and ``y`` (split here, stratified), or ``x_train`` and ``y_train``
    with optional ``x_val``/``y_val`` and ``x_test``/``y_test`` (the layout of
    keras.datasets files; a missing split is taken from the training arrays). Labels are
    class indices, or one-hot rows. ``(n, height, width)`` images get a channel axis.
    """

    def __init__(
        self,
        path: str,
        batch_size: int = 32,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        class_names: Sequence[str] | None = None,
        seed: int = 0,
    ):
        path = os.path.expanduser(path)
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (OSError, ValueError) as error:
            raise UserError(f"data.path={path!r} is not a readable .npz file ({error}).") from error
        splits = _npz_splits(path, arrays, val_fraction, test_fraction, seed)
        labels = np.concatenate([y for _, y in splits.values()])
        if class_names is None and "class_names" in arrays:
            class_names = [str(c) for c in arrays["class_names"]]
        if class_names is None:
            class_names = [str(c) for c in range(int(labels.max()) + 1)]
        if labels.min() < 0 or labels.max() >= len(class_names):
            raise UserError(
                f"data.path={path!r} has labels from {labels.min()} to {labels.max()}, but "
                f"{len(class_names)} class names; labels must be class indices 0 to "
                f"{len(class_names) - 1}."
            )
        super().__init__(splits, class_names, batch_size)


def _npz_splits(path, arrays, val_fraction, test_fraction, seed) -> dict[str, Arrays]:
    def pair(x_key: str, y_key: str) -> Arrays:
        return _checked_arrays(path, x_key, arrays[x_key], y_key, arrays[y_key])

    if "x" in arrays and "y" in arrays:
        return stratified_split(*pair("x", "y"), val_fraction, test_fraction, seed)
    if "x_train" not in arrays or "y_train" not in arrays:
        raise UserError(
            f"data.path={path!r} holds the arrays {sorted(arrays)}; it needs 'x' and 'y', or "
            "'x_train' and 'y_train' (with optional 'x_val'/'y_val' and 'x_test'/'y_test')."
        )
    given = {name: pair(f"x_{name}", f"y_{name}") for name in ("val", "test") if f"x_{name}" in arrays}
    return complete_splits(pair("x_train", "y_train"), given, val_fraction, test_fraction, seed)


def _checked_arrays(path: str, x_key: str, x: np.ndarray, y_key: str, y: np.ndarray) -> Arrays:
    where = f"data.path={path!r}"
    if len(x) != len(y):
        raise UserError(f"{where}: {x_key} has {len(x)} samples but {y_key} has {len(y)}; they must match.")
    if not np.issubdtype(x.dtype, np.number):
        raise UserError(f"{where}: {x_key} has dtype {x.dtype}; inputs must be numeric.")
    if y.ndim == 2:  # one-hot rows
        y = y.argmax(axis=1)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0)):
        raise UserError(
            f"{where}: {y_key} must hold integer class indices (or one-hot rows), "
            f"got dtype {y.dtype} and shape {y.shape}."
        )
    if x.ndim == 3:  # (n, height, width) grayscale images
        x = x[..., np.newaxis]
    return x.astype("float32"), y.astype("int64")
