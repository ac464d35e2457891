"""keras.applications backbones with a classification head sized from the data."""

import logging
import os
from collections.abc import Sequence

import keras
from keras import layers

from ktrain.errors import UserError
from ktrain.models import BACKBONES
from ktrain.models.layers import classifier_head, image_input_shape, preprocess

log = logging.getLogger(__name__)


def backbone(
    input_shape: Sequence[int],
    num_classes: int,
    architecture: str,
    weights: str | None = None,
    pooling: str = "avg",
    dropout: float = 0.0,
    trainable: bool = True,
    preprocessing: str = "imagenet",
) -> keras.Model:
    """``keras.applications.<architecture>`` without its top, pooled, plus a softmax head.

    ``weights`` is None (random init) or a local weights file: nothing is downloaded.
    Inputs smaller than the architecture's minimum are resized up inside the model, and
    grayscale inputs are repeated to three channels; the log says so.
    """
    spec = BACKBONES[architecture]
    name = architecture.lower()
    height, width, channels = image_input_shape(input_shape, name)
    if channels not in (1, 3):
        raise UserError(
            f"model={name} takes 1 or 3 channels; the data give {channels}. "
            "Use data.color_mode=rgb or grayscale, or model=simple_cnn."
        )
    if weights is not None and not os.path.isfile(os.path.expanduser(weights)):
        raise UserError(f"model.weights={weights!r} is not a file; give a local weights file or null.")

    inputs = keras.Input(shape=(height, width, channels), name="image")
    x = inputs
    size = (max(height, spec.min_size), max(width, spec.min_size))
    if size != (height, width):
        log.info(
            "model: %s needs inputs of at least %dx%d; resizing %dx%d inputs to %dx%d inside the model",
            architecture,
            spec.min_size,
            spec.min_size,
            height,
            width,
            *size,
        )
        x = layers.Resizing(*size, name="resize_to_minimum")(x)
    if channels == 1:
        log.info("model: repeating the grayscale channel to the 3 channels %s takes", architecture)
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    x = preprocess(x, spec.preprocessing if preprocessing == "imagenet" else preprocessing)

    base = getattr(keras.applications, architecture)(
        include_top=False,
        weights=os.path.expanduser(weights) if weights else None,
        input_shape=(*size, 3),
        pooling=pooling,
    )
    base.trainable = trainable
    x = base(x, training=None if trainable else False)
    return keras.Model(inputs, classifier_head(x, num_classes, dropout), name=name)
