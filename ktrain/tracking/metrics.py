"""A Keras callback that sends each epoch's logs and learning rate to an MLflow run."""

import time

import keras
from mlflow import MlflowClient
from mlflow.entities import Metric


def current_learning_rate(optimizer) -> float:
    """The learning rate the optimizer applies at its next step (schedules evaluated)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class MlflowMetricsLogger(keras.callbacks.Callback):
    """Logs every key of Keras' epoch logs plus ``lr`` to an MLflow run, with step = epoch.

    Logging is asynchronous (MLflow queues the batch and sends it from a worker thread), so
    the training loop never waits for the tracking store. ``lr`` is read when the epoch
    begins: the rate in effect for it, before a callback such as ReduceLROnPlateau lowers
    it for the next. ``mlflow.keras.MlflowCallback`` logs no learning rate and logs every
    validation pass a second time without a step, hence this callback.
    """

    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id
        self.client = MlflowClient()
        self._lr = float("nan")

    def on_epoch_begin(self, epoch, logs=None):
        self._lr = current_learning_rate(self.model.optimizer)

    def on_epoch_end(self, epoch, logs=None):
        now = int(time.time() * 1000)
        values = {key: float(value) for key, value in (logs or {}).items()}
        values["lr"] = self._lr
        metrics = [Metric(key, value, now, epoch) for key, value in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics, synchronous=False)
