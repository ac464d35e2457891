"""Input blocks shared by the builders: preprocessing as plain Keras layers.

Preprocessing lives inside the model so that a saved model takes raw pixel values, and
``predict.py``, ``mlflow models serve`` and ``mlflow.pyfunc`` need no preprocessing code of
their own. Only stock layers are used, so models load with Keras' safe mode.
"""

from collections.abc import Sequence

import numpy as np
from keras import layers

from ktrain.errors import UserError
from ktrain.tasks import Target, heads

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


def preprocess(x, mode: str, name: str | None = None):
    """Apply one of keras.applications' preprocessing modes to pixel values in [0, 255].

    ``rescale`` maps to [0, 1]; ``tf`` to [-1, 1]; ``torch`` to ImageNet-standardised [0, 1];
    ``caffe`` flips RGB to BGR and subtracts the ImageNet mean; ``none`` and ``builtin``
    (the backbone normalises its own input) leave ``x`` as it is. ``name``: the input's, for
    a model of several inputs (each gets layers of its own).
    """
    if mode == "rescale":
        return layers.Rescaling(1.0 / 255, name=f"{name}_rescale" if name else "rescale")(x)
    if mode == "tf":
        return layers.Rescaling(1.0 / 127.5, offset=-1.0, name="tf_preprocessing")(x)
    if mode == "torch":
        x = layers.Rescaling(1.0 / 255, name="rescale")(x)
        variance = [s**2 for s in IMAGENET_STD_RGB]
        return layers.Normalization(mean=IMAGENET_MEAN_RGB, variance=variance, name="torch_preprocessing")(x)
    if mode == "caffe":
        return _caffe(x)
    if mode in ("none", "builtin"):
        return x
    raise ValueError(f"unknown preprocessing mode {mode!r}")


def _caffe(x):
    # RGB -> BGR minus the mean is linear per pixel: a frozen 1x1 convolution computes it
    # exactly, and saves as a stock layer where a Lambda would not load in safe mode.
    conv = layers.Conv2D(3, 1, trainable=False, name="caffe_preprocessing")
    y = conv(x)
    flip = np.eye(3, dtype="float32")[::-1].reshape(1, 1, 3, 3)
    conv.set_weights([flip, -np.asarray(IMAGENET_MEAN_BGR, dtype="float32")])
    return y


def task_heads(x, targets: Sequence[Target], dropout: float = 0.0):
    """Dropout, then the head of each target's task (``ktrain.tasks.heads``): float32 outputs
    even under mixed precision; one output, or one per target by name."""
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    return heads(x, targets)


def targets_of(num_classes: int | None, targets: Sequence[Target] | None) -> tuple[Target, ...]:
    """The targets a builder puts heads on: ``targets`` as the run gives them, or, called from
    a notebook with a class count, one class target of ``num_classes`` classes."""
    if targets:
        return tuple(targets)
    if num_classes is None:
        raise UserError("a model builder needs the data's targets, or num_classes for one class target.")
    return (Target("label", "class", classes=tuple(str(c) for c in range(num_classes))),)


def image_input_shape(input_shape, model_name: str) -> tuple[int, int, int]:
    """Check that the data are images (height, width, channels) for a convolutional model."""
    if len(input_shape) != 3:
        raise UserError(
            f"model={model_name} needs image inputs shaped (height, width, channels), but the "
            f"data give samples shaped {tuple(input_shape)}; use model=mlp for other data."
        )
    return tuple(input_shape)


def refuse_masks(targets: Sequence[Target], model: str) -> None:
    """A model that ends in a vector cannot predict a mask."""
    masks = [target.name for target in targets if target.kind == "mask"]
    if masks:
        raise UserError(
            f"model={model} ends in a vector, and the target {masks[0]!r} is a mask (a class per pixel), "
            "which needs a model that keeps the image's height and width: use model=unet."
        )
