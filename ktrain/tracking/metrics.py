"""A Keras callback that sends each epoch's row of an ``EpochLog`` to an MLflow run."""

import logging
import os
import time

import keras
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

log = logging.getLogger(__name__)

MAX_BATCH = 1000  # metrics per MLflow log_batch call

# MLflow's asynchronous queue gathers what was logged in this many seconds into one write:
# a write to a SQLite store is about 7 ms of CPU, which on a busy machine is taken from the
# training loop, so epochs shorter than this share a write (at one second, short epochs
# still paid 1.5 to 2 ms each). The UI shows an epoch at most this late; the flush at the
# run's end is prompt whatever the setting (the unbuffered queue polls once a second). A
# user's own setting wins.
BUFFERING_SECONDS = "5"


class MlflowMetricsLogger(keras.callbacks.Callback):
    """Logs every key of an ``EpochLog`` row (Keras' epoch logs plus ``lr``), step = epoch.

    Place it after the ``EpochLog``. Given the run's ``RunBackup``, an epoch is logged only
    once its backup is committed (in the backup's writer thread, off the training loop): a
    resumed run then never trains and logs again an epoch that MLflow already holds, and an
    epoch whose logging a kill prevented is still in the backup's history, from which
    ``on_train_begin`` logs every restored (epoch, key) that MLflow lacks. So every epoch is
    in MLflow exactly once. ``mlflow.keras.MlflowCallback`` logs no learning rate and logs
    every validation pass a second time without a step, hence this callback.

    The epochs go through MLflow's asynchronous queue, at most one write in five seconds. When
    training ends the queue is flushed and every write is waited for, so that a write that
    failed fails the run, as it would have done synchronously.
    """

    def __init__(self, run_id: str, epoch_log, backup=None):
        super().__init__()
        self.run_id = run_id
        self.epoch_log = epoch_log
        self.backup = backup
        self.client = MlflowClient()
        self._writes = []  # MLflow's RunOperations of the queued epochs
        self._logged: dict[str, set[int]] = {}  # (key, steps) MLflow held when a resumed run began
        self._sent: dict[int, list[Metric]] = {}  # epoch -> its metrics, as this process logs them
        self._restored_checked = False
        os.environ.setdefault("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", BUFFERING_SECONDS)

    def on_train_begin(self, logs=None):
        # Once, at the first fit's start, when the rows are the restored ones. A run's later fit
        # (a fine-tune's second phase) finds every row logged: on_train_end waited for them.
        if self.epoch_log.rows and not self._restored_checked:
            self._logged = log_missing(self.client, self.run_id, self.epoch_log.rows)
        self._restored_checked = True

    def on_epoch_end(self, epoch, logs=None):
        # A run resumed from the backup in MLflow (resume=<run id>) may train again epochs
        # that it logged after that backup was sent: MLflow keeps their first values.
        metrics = [m for m in _metrics(self.epoch_log.rows[-1]) if m.step not in self._logged.get(m.key, ())]
        if not metrics:
            return
        self._sent[epoch] = metrics
        if self.backup is None:
            self._log(metrics)
        else:
            self.backup.then(lambda: self._log(metrics))

    def metrics_at(self, epoch: int) -> list[Metric] | None:
        """The metrics of ``epoch`` as this process logs them (timestamps included), for a model
        that links them; None for an epoch it did not log."""
        return self._sent.get(epoch)

    def on_train_end(self, logs=None):
        # After RunBackup.on_train_end (the logger follows the backup): every epoch is queued.
        mlflow.flush_async_logging()
        while self._writes:
            self._writes.pop(0).wait()

    def _log(self, metrics: list[Metric]) -> None:
        self._writes.append(self.client.log_batch(self.run_id, metrics=metrics, synchronous=False))


def log_missing(client: MlflowClient, run_id: str, rows: list[dict[str, float]]) -> dict[str, set[int]]:
    """Log each (key, epoch) of ``rows`` that the run's metric history lacks, synchronously;
    return the steps of each key that the history held."""
    keys = {key for row in rows for key in row if key != "epoch"}
    logged = {key: {m.step for m in client.get_metric_history(run_id, key)} for key in keys}
    missing = [m for row in rows for m in _metrics(row) if m.step not in logged[m.key]]
    for start in range(0, len(missing), MAX_BATCH):
        client.log_batch(run_id, metrics=missing[start : start + MAX_BATCH])
    if missing:
        log.info(
            "mlflow: logged %d metric values of restored epochs %s", len(missing), sorted({m.step for m in missing})
        )
    return logged


def _metrics(row: dict[str, float]) -> list[Metric]:
    now = int(time.time() * 1000)
    epoch = int(row["epoch"])
    return [Metric(key, value, now, epoch) for key, value in row.items() if key != "epoch"]
