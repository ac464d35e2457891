"""A saved Keras model as the start of a new run: fine-tuning an earlier run, say."""

import logging
import os
from collections.abc import Sequence

import keras

from ktrain.errors import UserError
from ktrain.models import shape_fits
from ktrain.models.layers import targets_of
from ktrain.tasks import Target, head_problems, task_of

log = logging.getLogger(__name__)


def saved(
    input_shape: Sequence[int] | None,
    num_classes: int | None = None,
    path: str = "",
    targets: Sequence[Target] | None = None,
    from_run: str | None = None,
) -> keras.Model:
    """The model in the ``.keras`` file ``path`` (loaded in Keras' safe mode, a user's own
    layers found as ``ktrain.models.custom_objects`` finds them), for data of ``input_shape``
    and ``targets`` (or ``num_classes`` classes). When the data's one target does not fit the
    model's one output and its last layer is a Dense layer, that layer is replaced by the
    target's head (randomly initialised), and the log says so. ``from_run``, where given, is
    the run whose final model ``path`` is, as the refusals name it."""
    from ktrain.models.custom_objects import load_model

    targets = targets_of(num_classes, targets)
    path = os.path.expanduser(path)
    given = f"model.from_run={from_run!r}" if from_run else f"model.path={path!r}"
    model = load_model(path, "model.path", compile=False)
    expected = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, dict | list) else None
    if expected is not None and input_shape is not None and not shape_fits(expected, input_shape):
        raise UserError(
            f"{given} takes inputs shaped {expected}, but the data give {tuple(input_shape)}; "
            "use data of the shape it was trained on (data.image_size, data.color_mode)."
        )
    problems = head_problems(model.output_shape, model.output_names, targets)
    if not problems:
        return model
    head = model.layers[-1]
    if len(targets) != 1 or len(model.outputs) != 1 or not isinstance(head, keras.layers.Dense):
        raise UserError(
            f"{given} does not fit the data: {'; '.join(problems)}; and its last layer ({type(head).__name__}) "
            "is not the one Dense output that could be replaced by the target's head (a model of one target "
            "whose last layer is a Dense layer gets a new head; train a model of several targets anew)."
        )
    log.info("model: %s; its head %r is replaced by the target's", "; ".join(problems), head.name)
    outputs = task_of(targets[0]).head(model.layers[-2].output, head.name)
    return keras.Model(model.input, outputs, name=model.name)  # model.input: its inputs' structure
