"""Small networks that train in seconds on a CPU."""

from collections.abc import Mapping, Sequence

import keras
from keras import layers

from ktrain.models.layers import image_input_shape, preprocess, refuse_masks, targets_of, task_heads
from ktrain.tasks import Target


def simple_cnn(
    input_shape: Sequence[int],
    num_classes: int | None = None,
    filters: Sequence[int] = (32, 64),
    dense_units: int = 128,
    dropout: float = 0.25,
    preprocessing: str = "rescale",
    targets: Sequence[Target] | None = None,
) -> keras.Model:
    """Conv-pool blocks (one per entry of ``filters``), a Dense layer and the head of each
    target (``targets``; or a softmax over ``num_classes`` classes)."""
    targets = targets_of(num_classes, targets)
    refuse_masks(targets, "simple_cnn")
    inputs = keras.Input(shape=image_input_shape(input_shape, "simple_cnn"), name="image")
    x = preprocess(inputs, preprocessing)
    for width in filters:
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(padding="same")(x)  # "same": small inputs never pool to zero
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(dense_units, activation="relu")(x)
    return keras.Model(inputs, task_heads(x, targets, dropout), name="simple_cnn")


def mlp(
    input_shape: Sequence[int] | None = None,
    num_classes: int | None = None,
    hidden_units: Sequence[int] = (256, 128),
    dropout: float = 0.2,
    preprocessing: str = "rescale",
    targets: Sequence[Target] | None = None,
    inputs: Mapping[str, Sequence[int]] | None = None,
) -> keras.Model:
    """Dense layers over the flattened input (named ``inputs``: each flattened, then joined),
    and the head of each target."""
    targets = targets_of(num_classes, targets)
    refuse_masks(targets, "mlp")
    if inputs:
        entries = {name: keras.Input(shape=tuple(shape), name=name) for name, shape in inputs.items()}
        flat = [layers.Flatten()(preprocess(entry, preprocessing, name)) for name, entry in entries.items()]
        x, model_inputs = layers.Concatenate(name="features")(flat) if len(flat) > 1 else flat[0], entries
    else:
        model_inputs = keras.Input(shape=tuple(input_shape), name="features")
        x = layers.Flatten()(preprocess(model_inputs, preprocessing))
    for units in hidden_units:
        x = layers.Dense(units, activation="relu")(x)
        x = layers.Dropout(dropout)(x)
    return keras.Model(model_inputs, task_heads(x, targets), name="mlp")
