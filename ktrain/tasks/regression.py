"""The regression task: numbers of any shape (``number``)."""

import numpy as np

from ktrain.errors import UserError
from ktrain.tasks.base import Decoding, Task, register
from ktrain.tasks.target import Target


@register("number")
class NumberTask(Task):
    """Numbers, one or several per sample (any shape): a linear head of as many units, reshaped
    to the values' shape. Not stratified. Decoded as the values, one column each, named by
    ``columns`` (the target's name for one value)."""

    loss_name = "mean_squared_error"
    losses = "numbers"
    metric_names = ("mae",)
    activation = None

    @classmethod
    def from_values(cls, name: str, splits: dict[str, np.ndarray], names=None, where: str = "the data"):
        if any(not np.issubdtype(values.dtype, np.number) for values in splits.values()):
            raise UserError(f"{where}: the number target {name!r} must hold numbers.")
        shape = tuple(splits["train"].shape[1:])
        width = int(np.prod(shape)) if shape else 1
        default = _columns(name, width)
        if names is not None and len(names) != width:
            raise UserError(
                f"{where}: the number target {name!r} has {width} values per sample but {len(names)} names."
            )
        values = {split: values.astype("float32") for split, values in splits.items()}
        train = values["train"]
        value_range = (float(train.min()), float(train.max())) if train.size else None
        target = Target(name, "number", shape, columns=tuple(names) if names is not None else default,
                        value_range=value_range)  # fmt: skip
        return target, values

    def units(self) -> int:
        return int(np.prod(self.target.shape)) if self.target.shape else 1

    def output_shape(self) -> tuple[int, ...]:
        return self.target.shape if len(self.target.shape) >= 1 else (1,)

    def head(self, features, name: str):
        from keras import layers

        if len(self.target.shape) <= 1:
            return super().head(features, name)
        flat = layers.Dense(self.units(), dtype="float32", name=f"{name}_values")(features)
        return layers.Reshape(self.target.shape, dtype="float32", name=name)(flat)

    def decode(self, outputs: np.ndarray, decoding: Decoding) -> dict[str, list]:
        flat = outputs.reshape(len(outputs), -1)
        columns = self.target.columns or _columns(self.target.name, self.units())  # a module may name none
        return {column: flat[:, i].tolist() for i, column in enumerate(columns)}


def _columns(name: str, width: int) -> tuple[str, ...]:
    """A number target's column names where none are given: its name for one value, else
    ``<name>_0``, ``<name>_1``..."""
    return (name,) if width == 1 else tuple(f"{name}_{i}" for i in range(width))
