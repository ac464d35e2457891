"""Input blocks shared by the builders: preprocessing as plain Keras layers.

Preprocessing lives inside the model so that a saved model takes raw pixel values, and
``predict.py``, ``mlflow models serve`` and ``mlflow.pyfunc`` need no preprocessing code of
their own. Only stock layers are used, so models load with Keras' safe mode.
"""

import numpy as np
from keras import layers

from ktrain.errors import UserError

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


def preprocess(x, mode: str):
    """Apply one of keras.applications' preprocessing modes to pixel values in [0, 255].

    ``rescale`` maps to [0, 1]; ``tf`` to [-1, 1]; ``torch`` to ImageNet-standardised [0, 1];
    ``caffe`` flips RGB to BGR and subtracts the ImageNet mean; ``none`` and ``builtin``
    (the backbone normalises its own input) leave ``x`` as it is.
    """
    if mode == "rescale":
        return layers.Rescaling(1.0 / 255, name="rescale")(x)
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


def classifier_head(x, num_classes: int, dropout: float):
    """Dropout and a softmax Dense layer; float32 output even under mixed precision."""
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)


def image_input_shape(input_shape, model_name: str) -> tuple[int, int, int]:
    """Check that the data are images (height, width, channels) for a convolutional model."""
    if len(input_shape) != 3:
        raise UserError(
            f"model={model_name} needs image inputs shaped (height, width, channels), but the "
            f"data give samples shaped {tuple(input_shape)}; use model=mlp for other data."
        )
    return tuple(input_shape)
