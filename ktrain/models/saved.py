"""A saved Keras model as the start of a new run: fine-tuning an earlier run, say."""

import logging
import os
from collections.abc import Sequence

import keras

from ktrain.errors import UserError

log = logging.getLogger(__name__)


def saved(input_shape: Sequence[int], num_classes: int, path: str) -> keras.Model:
    """The model in the ``.keras`` file ``path`` (loaded in Keras' safe mode), for data of
    ``input_shape``; when its last layer is a Dense layer of another width than
    ``num_classes``, that layer is replaced by a new one (randomly initialised), and the log
    says so."""
    path = os.path.expanduser(path)
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except (OSError, ValueError) as error:
        raise UserError(f"model.path={path!r} is not a Keras model file that loads ({error}).") from error
    expected = tuple(model.input_shape[1:])
    if len(expected) != len(input_shape) or any(e not in (None, g) for e, g in zip(expected, input_shape)):
        raise UserError(
            f"model.path={path!r} takes inputs shaped {expected}, but the data give {tuple(input_shape)}; "
            "use data of the shape it was trained on (data.image_size, data.color_mode)."
        )
    head = model.layers[-1]
    if model.output_shape[-1] == num_classes:
        return model
    if not isinstance(head, keras.layers.Dense):
        raise UserError(
            f"model.path={path!r} gives {model.output_shape[-1]} outputs and the data have {num_classes} "
            f"classes, and its last layer ({type(head).__name__}) is not a Dense layer that could be replaced."
        )
    log.info(
        "model: %s has %d classes and the data %d: its head %r is replaced by a new Dense layer",
        path,
        model.output_shape[-1],
        num_classes,
        head.name,
    )
    features = model.layers[-2].output
    outputs = keras.layers.Dense(num_classes, activation=head.activation, dtype="float32", name=head.name)(features)
    return keras.Model(model.inputs, outputs, name=model.name)
