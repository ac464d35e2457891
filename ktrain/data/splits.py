"""Train, val and test splits: the ones a data set gives, and the others taken from its
training data by their fractions, each with the class proportions of the whole where the
target's task stratifies (``ktrain.tasks``: class and binary targets do, others are split at
random).

``complete_splits`` keeps the splits a data set gives and takes the missing ones, for an
``.npz`` file's arrays (``arrays.py``) and an image or text folder's files (``folder_splits``) alike.
"""

from collections.abc import Callable

import numpy as np

from ktrain.data import SPLITS
from ktrain.data.folders import ClassFolder, FolderScan
from ktrain.errors import UserError

Arrays = tuple[np.ndarray, np.ndarray]  # (inputs, labels), or (file paths, labels)
Stratify = Callable[[np.ndarray], np.ndarray | None]  # the labels to keep the proportions of; None: none


def _by_labels(y: np.ndarray) -> np.ndarray:
    return y


def complete_splits(
    train: Arrays,
    given: dict[str, Arrays],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: Stratify = _by_labels,
) -> dict[str, Arrays]:
    """The train/val/test splits: ``given`` ones (val, test) as they are, the missing ones taken
    from ``train`` by their fractions, stratified by ``stratify(y)`` and seeded; with nothing
    given, all three from ``train``."""
    fractions = {"val": val_fraction, "test": test_fraction}
    missing = {split: fraction for split, fraction in fractions.items() if split not in given}
    if not missing:
        return {"train": train, **given}
    taken = stratified_split(*train, missing.get("val", 0.0), missing.get("test", 0.0), seed, stratify)
    return {split: given.get(split, taken[split]) for split in SPLITS}


def stratified_split(
    x: np.ndarray,
    y: np.ndarray,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: Stratify = _by_labels,
) -> dict[str, Arrays]:
    """Seeded split into train/val/test, each with the class proportions of ``stratify(y)``
    (``y`` itself by default), or at random where it gives None.

    A fraction of 0 gives an empty split.
    """
    from sklearn.model_selection import train_test_split  # scikit-learn: imported once data are split

    def take(x, y, fraction):
        if fraction == 0:
            return (x, y), (x[:0], y[:0])
        labels = stratify(y)
        try:
            x_rest, x_part, y_rest, y_part = train_test_split(
                x, y, test_size=fraction, stratify=labels, random_state=seed
            )
        except ValueError as error:  # scikit-learn's message lists every class: too long to show
            raise UserError(_unsplittable(y, labels)) from error
        return (x_rest, y_rest), (x_part, y_part)

    rest, test = take(x, y, test_fraction)
    train, val = take(*rest, val_fraction / (1.0 - test_fraction))
    return {"train": train, "val": val, "test": test}


def _unsplittable(y: np.ndarray, labels: np.ndarray | None) -> str:
    counts = np.unique(labels, return_counts=True)[1] if labels is not None else np.array([len(y)])
    numeric = np.issubdtype(y.dtype, np.number) and y.size
    fractional = numeric and not np.all(np.mod(y, 1) == 0)
    return (
        f"Cannot split {len(y)} samples into train/val/test with class proportions kept: the target has "
        f"{len(counts)} classes, the smallest with {counts.min()} sample(s), and each split needs at least one "
        "of every class. "
        + (f"Its values are not whole numbers (such as {y[np.mod(y, 1) != 0].flat[0]:g}), so they are no "
           "class indices: give data.target_kind=number, which is split at random."
           if fractional else
           "Use more data, or smaller data.val_fraction and data.test_fraction; if the target holds "
           "numbers rather than classes, give data.target_kind=number, which is split at random.")
    )  # fmt: skip


def folder_splits(
    found: FolderScan, folders: list[ClassFolder], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, Arrays]:
    """(paths, class indices) for train, val and test of a folder's class ``folders``: the given
    split folders, or stratified splits by the fractions where there are none."""
    index = {name: i for i, name in enumerate(found.class_names)}

    def files(split: str | None) -> Arrays:
        chosen = [folder for folder in folders if folder.split == split]
        paths = np.array([file for folder in chosen for file in folder.files])
        labels = np.array([index[folder.class_name] for folder in chosen for _ in folder.files], dtype="int64")
        return paths, labels

    if not found.presplit:
        return complete_splits(files(None), {}, val_fraction, test_fraction, seed)
    given = {split: files(split) for split in ("val", "test") if any(f.split == split for f in folders)}
    return complete_splits(files("train"), given, val_fraction, test_fraction, seed)
