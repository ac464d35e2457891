"""Model builders: plain functions from (input shape, class count, options) to a Keras model.

``ktrain.models.small`` holds the small networks, ``ktrain.models.backbone`` the
keras.applications backbones, ``ktrain.models.text`` a small text model, ``ktrain.models.hub``
KerasHub's classifiers from a preset (``ktrain.models.presets`` finds it). This module itself
imports no Keras: the config schema reads ``BACKBONES`` to refuse an unknown architecture
before TensorFlow is imported.

A builder of a user's own fits ``ktrain.contracts.ModelBuilder``. This package imports
``ktrain.errors`` and ``ktrain.tasks`` of ktrain, and ``ktrain.data.checked_files`` (a preset's
checksums kept as a folder's decode checks are); a table's columns (``ktrain.data.Column``) are
read by their attributes.
"""

from typing import NamedTuple


class Architecture(NamedTuple):
    """What ktrain needs to know about a keras.applications model beyond its constructor."""

    preprocessing: str  # "caffe", "tf", "torch", or "builtin" (the model normalises its input)
    min_size: int  # the smallest height and width keras.applications accepts


BACKBONES = {
    "ResNet50": Architecture("caffe", 32),
    "ResNet101": Architecture("caffe", 32),
    "ResNet152": Architecture("caffe", 32),
    "ResNet50V2": Architecture("tf", 32),
    "ResNet101V2": Architecture("tf", 32),
    "VGG16": Architecture("caffe", 32),
    "VGG19": Architecture("caffe", 32),
    "MobileNet": Architecture("tf", 32),
    "MobileNetV2": Architecture("tf", 32),
    "MobileNetV3Small": Architecture("builtin", 32),
    "MobileNetV3Large": Architecture("builtin", 32),
    "DenseNet121": Architecture("torch", 32),
    "DenseNet169": Architecture("torch", 32),
    "InceptionV3": Architecture("tf", 75),
    "Xception": Architecture("tf", 71),
    "EfficientNetB0": Architecture("builtin", 32),
    "EfficientNetB1": Architecture("builtin", 32),
    "EfficientNetB2": Architecture("builtin", 32),
    "EfficientNetB3": Architecture("builtin", 32),
    "EfficientNetV2B0": Architecture("builtin", 32),
    "EfficientNetV2S": Architecture("builtin", 32),
    "ConvNeXtTiny": Architecture("builtin", 32),
}


def shape_fits(expected: tuple, given: tuple) -> bool:
    """Whether a sample shaped ``given`` fits a model input shaped ``expected`` (None: any size)."""
    return len(expected) == len(given) and all(e in (None, g) for e, g in zip(expected, given))
