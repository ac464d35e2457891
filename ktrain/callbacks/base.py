"""What ktrain's own callbacks share."""

import keras
import numpy as np


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


def host_value(variable) -> np.ndarray:
    """A variable's value that the next training step does not change (what the backup and
    the checkpoints written in the background copy in the training loop).

    A TensorFlow variable on one device is read with the bare read op, 15 µs, not Keras'
    conversion, 65 µs, which on small models is most of what the backup costs the loop: the
    read's buffer is the variable's own until the variable is next updated, when TensorFlow
    gives the variable a new buffer, since this read still uses the old one. Anything else is
    copied: a backend may hand out a view of a buffer that the next step reuses while the
    writer thread still writes it.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # on this backend only

        value = variable.value
        if not isinstance(value, tf.distribute.DistributedValues):  # mirrored variables read per replica
            return tf.raw_ops.ReadVariableOp(resource=value.handle, dtype=value.dtype).numpy()
    return np.array(keras.ops.convert_to_numpy(variable), copy=True)
