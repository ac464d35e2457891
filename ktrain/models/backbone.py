"""keras.applications backbones with a classification head sized from the data."""

import logging
import os
import warnings
from collections.abc import Sequence

import keras
from keras import layers

from ktrain.errors import UserError
from ktrain.models import BACKBONES
from ktrain.models.layers import image_input_shape, preprocess, refuse_masks, targets_of, task_heads
from ktrain.models.pretrained import imagenet_downloads
from ktrain.tasks import Target

log = logging.getLogger(__name__)


def backbone(
    input_shape: Sequence[int],
    num_classes: int | None = None,
    architecture: str = "ResNet50",
    weights: str | None = None,
    pooling: str = "avg",
    dropout: float = 0.0,
    trainable: bool = True,
    preprocessing: str = "imagenet",
    targets: Sequence[Target] | None = None,
) -> keras.Model:
    """``keras.applications.<architecture>`` without its top, pooled, plus the head of each
    target (``targets``; or a softmax over ``num_classes`` classes).

    ``weights`` is None (random init), ``"imagenet"`` (keras.applications' own download and
    cache: ``ktrain.models.pretrained``) or a local weights file. Inputs smaller than the
    architecture's minimum are resized up inside the model, and grayscale inputs are repeated
    to three channels; the log says so.
    """
    spec = BACKBONES[architecture]
    name = architecture.lower()
    targets = targets_of(num_classes, targets)
    refuse_masks(targets, name)
    height, width, channels = image_input_shape(input_shape, name)
    if channels not in (1, 3):
        raise UserError(
            f"model={name} takes 1 or 3 channels; the data give {channels}. "
            "Use data.color_mode=rgb or grayscale, or model=simple_cnn."
        )
    if weights not in (None, "imagenet") and not os.path.isfile(os.path.expanduser(weights)):
        raise UserError(f"model.weights={weights!r} is not a file; give imagenet, a local weights file or null.")

    inputs = keras.Input(shape=(height, width, channels), name="image")
    x = inputs
    size = (max(height, spec.min_size), max(width, spec.min_size))
    if size != (height, width):
        log.info(
            "model: %s needs inputs of at least %dx%d; resizing %dx%d inputs to %dx%d inside the model",
            *(architecture, spec.min_size, spec.min_size, height, width, *size),
        )
        x = layers.Resizing(*size, name="resize_to_minimum")(x)
    if channels == 1:
        log.info("model: repeating the grayscale channel to the 3 channels %s takes", architecture)
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    x = preprocess(x, spec.preprocessing if preprocessing == "imagenet" else preprocessing)

    base = _application(architecture, weights, (*size, 3), pooling)
    base.trainable = trainable
    # A frozen backbone runs in inference mode, BatchNormalization included, and stays so when
    # fine-tuning unfreezes it (Keras' transfer-learning guide): training=False is fixed here.
    x = base(x, training=None if trainable else False)
    return keras.Model(inputs, task_heads(x, targets, dropout), name=name)


def _application(architecture: str, weights: str | None, input_shape: tuple[int, int, int], pooling: str):
    """``keras.applications.<architecture>`` without its top, its ImageNet weights fetched
    through ``imagenet_downloads``; what Keras remarks while it builds (e.g. which input size's
    ImageNet weights it loads for this one) is a fact of the run: logged, not warned."""
    with imagenet_downloads(architecture), warnings.catch_warnings(record=True) as remarks:
        warnings.simplefilter("always")
        base = getattr(keras.applications, architecture)(
            include_top=False,
            weights=os.path.expanduser(weights) if weights else None,
            input_shape=input_shape,
            pooling=pooling,
        )
    for remark in remarks:
        log.info("model: %s: %s", architecture, remark.message)
    return base


def base_of(model: keras.Model) -> keras.Model:
    """The keras.applications model inside a model that ``backbone`` built (or loaded back)."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise UserError(
            f"model {model.name!r} holds {len(nested)} nested models, not the one keras.applications "
            "backbone that fine-tuning unfreezes; build it with model=backbone (or resnet50, vgg16, ...)."
        )
    return nested[0]


def unfreeze(base: keras.Model, top_layers: int | None = None) -> int:
    """Make the top ``top_layers`` of ``base``'s layers trainable (all of them with None), and
    keep every BatchNormalization layer frozen, as Keras' transfer-learning guide does; the
    layers below stay frozen. Returns how many layers are now trainable."""
    base.trainable = True  # a model's flag gates its layers' own: set it before theirs
    layers_of = base.layers
    first = 0 if top_layers is None else max(len(layers_of) - top_layers, 0)
    for index, layer in enumerate(layers_of):
        layer.trainable = index >= first and not isinstance(layer, layers.BatchNormalization)
    return sum(1 for layer in layers_of if layer.trainable)
