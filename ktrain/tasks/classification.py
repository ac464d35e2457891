"""The classification tasks: one of N classes (``class``), ``binary``, and ``multi_label``."""

import numpy as np

from ktrain.errors import UserError
from ktrain.tasks.base import Decoding, Task, register
from ktrain.tasks.target import Target


def _all_values(splits: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([values.reshape(len(values), -1) for values in splits.values()]).reshape(-1)


@register("class")
class ClassTask(Task):
    """One of N classes: a softmax over the classes; the values are class indices (one-hot
    rows are taken as their index). Decoded as the top class with its probability, then the
    next ``top_k - 1``."""

    loss_name = "sparse_categorical_crossentropy"
    losses = "class index"
    metric_names = ("accuracy",)
    activation = "softmax"
    stratified = True
    weighted = True
    fewest_classes = 2

    @classmethod
    def from_values(cls, name: str, splits: dict[str, np.ndarray], names=None, where: str = "the data"):
        indices = {split: _indices(values, name, where) for split, values in splits.items()}
        labels = _all_values(indices)
        count = len(names) if names is not None else int(labels.max()) + 1 if labels.size else 0
        if labels.size and (labels.min() < 0 or labels.max() >= count):
            raise UserError(
                f"{where} has labels from {labels.min()} to {labels.max()}, but {count} class names; "
                f"labels must be class indices 0 to {count - 1}."
            )
        classes = tuple(names) if names is not None else tuple(str(c) for c in range(count))
        counts = tuple(np.bincount(indices["train"], minlength=count).tolist())
        return Target(name, "class", (), classes, counts), indices

    @classmethod
    def stratify(cls, values: np.ndarray) -> np.ndarray:
        return values.argmax(axis=1) if values.ndim == 2 and values.shape[1] > 1 else values.reshape(len(values))

    def units(self) -> int:
        return len(self.target.classes)

    def decode(self, outputs: np.ndarray, decoding: Decoding) -> dict[str, list]:
        ranked = np.argsort(-outputs, axis=1, kind="stable")[:, : decoding.top_k]
        columns: dict[str, list] = {}
        for place in range(ranked.shape[1]):
            suffix = f"_{place + 1}" if place else ""
            chosen = ranked[:, place]
            columns[f"label{suffix}"] = [self.target.classes[c] for c in chosen]
            columns[f"score{suffix}"] = outputs[np.arange(len(outputs)), chosen].tolist()
        return columns


def _indices(values: np.ndarray, name: str, where: str) -> np.ndarray:
    """Class indices of ``values``: integers, or one-hot rows."""
    if values.ndim == 2 and values.shape[1] > 1:
        values = values.argmax(axis=1)
    values = values.reshape(len(values), -1)[:, 0] if values.ndim == 2 else values
    if values.ndim != 1 or not (np.issubdtype(values.dtype, np.integer) or np.all(np.mod(values, 1) == 0)):
        raise UserError(
            f"{where}: the target {name!r} must hold integer class indices (or one-hot rows), got dtype "
            f"{values.dtype} and shape {values.shape}; for numbers, give data.target_kind=number."
        )
    return values.astype("int64")


@register("binary")
class BinaryTask(Task):
    """Two classes told by one sigmoid unit: the values are 0 and 1. Decoded as the positive
    class where the probability reaches ``threshold``, else the negative one."""

    loss_name = "binary_crossentropy"
    losses = "0/1 labels"
    metric_names = ("accuracy", "auc")
    activation = "sigmoid"
    stratified = True
    weighted = True
    fewest_classes = most_classes = 2  # the negative and the positive

    @classmethod
    def from_values(cls, name: str, splits: dict[str, np.ndarray], names=None, where: str = "the data"):
        labels = {split: values.reshape(len(values), -1) for split, values in splits.items()}
        if any(values.shape[1] != 1 or not np.isin(values, (0, 1)).all() for values in labels.values()):
            raise UserError(
                f"{where}: the binary target {name!r} must hold one 0 or 1 per sample; for more labels per "
                "sample give data.target_kind=multi_label, for class indices data.target_kind=class."
            )
        if names is not None and len(names) != 2:
            raise UserError(f"{where}: a binary target has two class names (negative, positive), got {len(names)}.")
        values = {split: values[:, 0].astype("float32") for split, values in labels.items()}
        counts = tuple(np.bincount(values["train"].astype("int64"), minlength=2).tolist())
        return Target(name, "binary", (), tuple(names) if names is not None else ("0", "1"), counts), values

    def units(self) -> int:
        return 1

    @classmethod
    def stratify(cls, values: np.ndarray) -> np.ndarray:
        return values.reshape(len(values)).astype("int64")

    def decode(self, outputs: np.ndarray, decoding: Decoding) -> dict[str, list]:
        probability = outputs.reshape(len(outputs), -1)[:, 0]
        negative, positive = self.target.classes
        return {
            "label": [positive if p >= decoding.threshold else negative for p in probability],
            "probability": probability.tolist(),
        }


@register("multi_label")
class MultiLabelTask(Task):
    """Any number of labels per sample: one sigmoid unit per label; the values are 0/1 rows.
    Decoded as the labels whose probability reaches ``threshold``, and every probability."""

    loss_name = "binary_crossentropy"
    losses = "0/1 labels"
    metric_names = ("binary_accuracy", "auc")
    activation = "sigmoid"
    fewest_classes = 1

    @classmethod
    def from_values(cls, name: str, splits: dict[str, np.ndarray], names=None, where: str = "the data"):
        if any(values.ndim != 2 or not np.isin(values, (0, 1)).all() for values in splits.values()):
            raise UserError(
                f"{where}: the multi-label target {name!r} must hold rows of 0 and 1, one per label; "
                "for class indices give data.target_kind=class."
            )
        width = splits["train"].shape[1]
        if names is not None and len(names) != width:
            raise UserError(f"{where}: the multi-label target {name!r} has {width} labels but {len(names)} names.")
        classes = tuple(names) if names is not None else tuple(str(c) for c in range(width))
        counts = tuple(splits["train"].sum(axis=0).astype("int64").tolist())
        values = {split: values.astype("float32") for split, values in splits.items()}
        return Target(name, "multi_label", (width,), classes, counts), values

    def metrics(self) -> list:
        import keras

        return ["binary_accuracy", keras.metrics.AUC(multi_label=True, name="auc")]

    def decode(self, outputs: np.ndarray, decoding: Decoding) -> dict[str, list]:
        classes = self.target.classes
        chosen = outputs >= decoding.threshold
        columns = {"labels": [";".join(c for c, on in zip(classes, row) if on) for row in chosen]}
        columns.update({f"score_{c}": outputs[:, i].tolist() for i, c in enumerate(classes)})
        return columns
