"""Learning-rate schedules built from the base learning rate and the length of training.

Each builder takes ``learning_rate``, ``steps_per_epoch`` and ``epochs`` (the run passes
the last two, from the data and ``fit.epochs``) and returns what a Keras optimizer takes as
``learning_rate``: a float or a ``keras.optimizers.schedules.LearningRateSchedule``.
"""


def constant(learning_rate: float, steps_per_epoch: int, epochs: int, name: str = "constant") -> float:
    """The base learning rate, unchanged (ReduceLROnPlateau may still lower it)."""
    return learning_rate
