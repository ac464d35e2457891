"""Reading an optimizer's learning rate, as callbacks report it."""

import keras


def current_learning_rate(optimizer) -> float:
    """The learning rate the optimizer applies at its next step (schedules evaluated)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
