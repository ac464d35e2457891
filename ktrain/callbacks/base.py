"""What ktrain's own callbacks share."""

import keras


class Callback(keras.callbacks.Callback):
    """A Keras callback that can tell the learning rate its model trains at.

    Example:

    >>> class PrintRate(Callback):
    ...     def on_epoch_begin(self, epoch, logs=None):
    ...         print(epoch, self.learning_rate())
    """

    def learning_rate(self) -> float:
        """The rate the model's optimizer applies at its next step (a schedule evaluated)."""
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
