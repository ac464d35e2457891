"""Small networks that train in seconds on a CPU."""

from collections.abc import Sequence

import keras
from keras import layers

from ktrain.models.layers import classifier_head, image_input_shape, preprocess


def simple_cnn(
    input_shape: Sequence[int],
    num_classes: int,
    filters: Sequence[int] = (32, 64),
    dense_units: int = 128,
    dropout: float = 0.25,
    preprocessing: str = "rescale",
) -> keras.Model:
    """Conv-pool blocks (one per entry of ``filters``), a Dense layer and a softmax head."""
    inputs = keras.Input(shape=image_input_shape(input_shape, "simple_cnn"), name="image")
    x = preprocess(inputs, preprocessing)
    for width in filters:
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(padding="same")(x)  # "same": small inputs never pool to zero
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(dense_units, activation="relu")(x)
    return keras.Model(inputs, classifier_head(x, num_classes, dropout), name="simple_cnn")


def mlp(
    input_shape: Sequence[int],
    num_classes: int,
    hidden_units: Sequence[int] = (256, 128),
    dropout: float = 0.2,
    preprocessing: str = "rescale",
) -> keras.Model:
    """Dense layers over the flattened input."""
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    x = layers.Flatten()(preprocess(inputs, preprocessing))
    for units in hidden_units:
        x = layers.Dense(units, activation="relu")(x)
        x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, classifier_head(x, num_classes, 0.0), name="mlp")
