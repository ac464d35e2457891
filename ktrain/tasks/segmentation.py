"""The segmentation task: a class per pixel (``mask``)."""

import numpy as np

from ktrain.errors import UserError
from ktrain.tasks.base import Decoding, Task, register
from ktrain.tasks.target import Target


@register("mask")
class MaskTask(Task):
    """A class per pixel: a 1x1 convolution with a softmax over the classes, on features of the
    image's height and width (``model=unet``). The values are class indices shaped (height,
    width). Not stratified. Decoded as the mask of each sample's most likely classes."""

    loss_name = "sparse_categorical_crossentropy"
    losses = "class index"
    metric_names = ("accuracy", "iou")
    activation = "softmax"
    fewest_classes = 2

    @classmethod
    def from_values(cls, name: str, splits: dict[str, np.ndarray], names=None, where: str = "the data"):
        if any(values.ndim != 3 or not np.issubdtype(values.dtype, np.integer) for values in splits.values()):
            raise UserError(
                f"{where}: the mask target {name!r} must hold integer class indices shaped (samples, height, width)."
            )
        highest = max(int(values.max()) for values in splits.values() if values.size)
        count = len(names) if names is not None else highest + 1
        if min(int(values.min()) for values in splits.values() if values.size) < 0 or highest >= count:
            raise UserError(
                f"{where}: the mask target {name!r} has pixel classes up to {highest}, but {count} class names."
            )
        classes = tuple(names) if names is not None else tuple(str(c) for c in range(count))
        counts = tuple(np.bincount(splits["train"].reshape(-1), minlength=count).tolist())
        values = {split: values.astype("int32") for split, values in splits.items()}
        return Target(name, "mask", tuple(splits["train"].shape[1:]), classes, counts), values

    def units(self) -> int:
        return len(self.target.classes)

    def output_shape(self) -> tuple[int, ...]:
        return (*self.target.shape, self.units())

    def head(self, features, name: str):
        from keras import layers

        return layers.Conv2D(self.units(), 1, activation="softmax", dtype="float32", name=name)(features)

    def metrics(self) -> list:
        import keras

        return ["accuracy", keras.metrics.MeanIoU(self.units(), sparse_y_pred=False, name="iou")]

    def decode(self, outputs: np.ndarray, decoding: Decoding) -> dict[str, list]:
        return {"mask": list(outputs.argmax(axis=-1).astype("uint8"))}
