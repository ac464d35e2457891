"""What ktrain's own callbacks share."""

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

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


class BackgroundWriter:
    """A thread that writes what the training loop copied, in the order it was queued, once
    the loop lets it.

    Work queued while the writer is held waits for ``release``: a callback holds it at an
    epoch's end, while the loop still runs the other callbacks, and releases it when the next
    epoch's first batch begins, and the backend trains without Python's lock. Writing at once
    took that lock from the loop's callbacks: with the backup and two checkpoints written from
    the epoch's end, the loop spent 6 to 10 ms more in them, measured on 2 busy cores.

    Example:

    >>> writer = BackgroundWriter("ktrain-backup")
    >>> writer.hold(); writer.then(lambda: print("written")); writer.release()
    >>> writer.close()  # waits; raises what the work raised
    """

    def __init__(self, name: str):
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        self._open = threading.Event()
        self._open.set()

    def then(self, work: Callable[[], None]) -> None:
        """Run ``work`` in the thread after everything queued so far."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        self._pending.append(self._executor.submit(self._when_open, work))

    def hold(self) -> None:
        """Work queued from now waits for ``release``."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    @property
    def started(self) -> bool:
        """Whether anything was ever queued."""
        return self._executor is not None

    def close(self) -> None:
        """Release the writer, wait for everything queued; raise the first error it met."""
        self.release()
        while self._pending:
            self._pending.pop(0).result()

    def _when_open(self, work: Callable[[], None]) -> None:
        self._open.wait()
        work()
