"""A per-epoch record of Keras' logs and the learning rate."""

from ktrain.callbacks.base import Callback


class EpochLog(Callback):
    """Keeps one row per epoch: its number, Keras' logs and ``lr``.

    ``lr`` is read when the epoch begins: the rate in effect for it, before a callback such
    as ReduceLROnPlateau lowers it for the next. Unlike ``keras.callbacks.History``, rows
    stay aligned when validation runs only every few epochs (``fit.validation_freq``): a row
    simply lacks the ``val_*`` keys.

    Example:

    >>> epoch_log = EpochLog()
    >>> model.fit(x, y, epochs=2, callbacks=[epoch_log])
    >>> epoch_log.rows[-1]["lr"]
    0.001
    """

    def __init__(self):
        super().__init__()
        self.rows: list[dict[str, float]] = []
        self._lr = float("nan")

    def on_epoch_begin(self, epoch, logs=None):
        self._lr = self.learning_rate()

    def on_epoch_end(self, epoch, logs=None):
        values = {k: float(v) for k, v in (logs or {}).items()}
        self.rows.append({"epoch": epoch, **values, "lr": self._lr})
