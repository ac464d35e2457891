"""A data module: its spec, and the train/val/test splits as Keras' fit takes them."""

import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

from ktrain.data import DataSpec, Split


class Wine:
    def __init__(self, batch_size=16, seed=0):
        x, y = load_wine(return_X_y=True)
        x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype("float32")
        x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.4, stratify=y, random_state=seed)
        x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=seed)
        self.batch_size = batch_size
        self.splits = {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}
        self.spec = DataSpec(
            input_shape=(13,),
            num_classes=3,
            class_names=("barolo", "grignolino", "barbera"),
            split_sizes={name: len(y) for name, (x, y) in self.splits.items()},
            class_counts=tuple(np.bincount(y_train, minlength=3).tolist()),
        )

    def split(self, name):
        x, y = self.splits[name]
        return Split(x, y, self.batch_size)
