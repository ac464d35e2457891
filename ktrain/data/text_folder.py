"""Text folders streamed from disk with tf.data: the layout of
``keras.utils.text_dataset_from_directory`` (the IMDB reviews' ``aclImdb/train/pos``, ``neg``).

``data.path`` holds one subfolder of ``.txt`` files per class (split here, stratified and
seeded), or ``train/``, ``val/`` and ``test/`` subfolders that each hold one subfolder per class
(a missing ``val/`` or ``test/`` is taken from ``train/``), as ``image_folder`` reads them.
Each split is a pipeline of file names: shuffle (train), read, batch, prefetch; a sample is
the file's whole text as a string, which the model takes raw (``TextVectorization``, or a
KerasHub preprocessor, is part of the model).

Every file is read once before training, so that an empty file, or one that is not UTF-8, is
named and left out (or refused, with ``on_bad_file="error"``), and a folder with no text is
refused; the verdicts are remembered (``checked_files``), so a later run reads only new or
changed files, and each split's digest comes from the stamps that check took.
"""

import os

import numpy as np
import tensorflow as tf

from ktrain.data import SPLITS, DataSpec, Lineage, Split
from ktrain.data.checked_files import readable_folders
from ktrain.data.folders import TEXTS, scan
from ktrain.data.lineage import files_lineage
from ktrain.data.splits import folder_splits

AUTOTUNE = tf.data.AUTOTUNE
INPUT = "text"  # the input's name in a split's schema


def textless_files(paths: list[str]) -> list[str]:
    """The files among ``paths`` that hold no text: empty, blank, or not UTF-8."""
    found = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as file:
                if not file.read().strip():
                    found.append(path)
        except (OSError, UnicodeDecodeError):
            found.append(path)
    return found


class TextFolderData:
    """Train/val/test pipelines over a folder of class subfolders of ``.txt`` files, and the spec
    of the data: one string input, one class target.

    From a notebook::

        data = TextFolderData("~/data/aclImdb", batch_size=32)
        model.fit(**data.split("train").fit_args(), validation_data=data.split("val").validation_data())
    """

    def __init__(
        self,
        path: str,
        batch_size: int = 32,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
        on_bad_file: str = "skip",
    ):
        self.batch_size = batch_size
        self.seed = seed
        self._root = os.path.abspath(os.path.expanduser(path))
        found = scan(path, TEXTS)
        folders, self._stamps = readable_folders(path, found, on_bad_file, textless_files, TEXTS)
        self._files = folder_splits(found, folders, val_fraction, test_fraction, seed)
        train_labels = self._files["train"][1]
        self.spec = DataSpec(
            input_shape=(),
            dtypes={None: "string"},
            num_classes=len(found.class_names),
            class_names=found.class_names,
            split_sizes={split: len(self._files[split][1]) for split in SPLITS},
            class_counts=tuple(np.bincount(train_labels, minlength=len(found.class_names)).tolist()),
        )

    def split(self, name: str) -> Split:
        """A batched dataset of (text, class index) pairs; shuffled for "train"."""
        paths, labels = self._files[name]
        dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
        if name == "train":  # file names: a shuffle of the whole split costs next to nothing
            dataset = dataset.shuffle(len(paths), seed=self.seed, reshuffle_each_iteration=True)
        dataset = dataset.map(lambda path, label: (tf.io.read_file(path), label), num_parallel_calls=AUTOTUNE)
        return Split(dataset.batch(self.batch_size).prefetch(AUTOTUNE))

    def lineage(self, name: str) -> Lineage:
        """Where split ``name`` comes from: the folder, a digest of its files' names, sizes and
        modification times (as the text check stamped them), its schema, rows and (train) classes."""
        paths, _ = self._files[name]
        schema = {INPUT: ("str", ()), "label": ("int64", ())}
        targets = self.spec.targets if name == "train" else None
        return files_lineage(self._root, list(paths), self._stamps, schema, len(paths), targets)
