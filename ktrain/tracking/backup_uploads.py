"""A Keras callback that sends each committed backup to the run's MLflow artifacts, so that
``resume=<run id>`` can continue the run on a machine that never saw its run dir."""

import logging
import time

import keras

from ktrain.names import BACKUP_ARTIFACTS, BACKUP_STATE
from ktrain.tracking.uploads import Uploads

log = logging.getLogger(__name__)


class BackupUploads(keras.callbacks.Callback):
    """After each epoch's backup is committed (in the backup's writer thread), hands its
    arrays file and ``state.json`` to ``uploads`` (hard links: the backup never rewrites a
    file in place), then deletes the previous arrays file from MLflow.

    A backup up to ``every_epoch_mb`` goes up after every epoch. A bigger one (a ResNet50
    with Adam is 300 MB) goes up at most every ``interval_s`` seconds, and when training
    ends or is stopped (``close``), so that a 20-second epoch does not send 300 MB each time.

    Place it after the ``RunBackup``.

    Args:
        uploads: the run's ``Uploads``.
        backup: the run's ``RunBackup``.
        every_epoch_mb: the largest backup sent after every epoch.
        interval_s: how often a bigger one is sent.

    Example:

    >>> backup = RunBackup(run_dir / "backup", [epoch_log], epochs=20)
    >>> model.fit(x, y, callbacks=[epoch_log, backup, BackupUploads(uploads, backup)])
    """

    def __init__(self, uploads: Uploads, backup, every_epoch_mb: float = 50.0, interval_s: float = 600.0):
        super().__init__()
        self.uploads = uploads
        self.backup = backup
        self.every_epoch_mb = every_epoch_mb
        self.interval_s = interval_s
        self._last_sent = time.monotonic()
        self._sent_state: dict | None = None  # the latest state handed over
        self._in_mlflow: set[str] = set()  # the arrays files MLflow holds (the uploading thread's)

    def on_epoch_end(self, epoch, logs=None):
        state = self.backup.state
        self.backup.then(lambda: self._offer(state, force=False))

    def close(self) -> None:
        """Hand over the latest committed backup if it was not sent (call after the backup's
        ``close``)."""
        state = self.backup.state
        if state is not None and state is not self._sent_state:
            self._offer(state, force=True)

    def _offer(self, state: dict, force: bool) -> None:
        arrays = self.backup.directory / state["arrays"]
        small = arrays.stat().st_size <= self.every_epoch_mb * 1e6
        if not (force or small or time.monotonic() - self._last_sent >= self.interval_s):
            return
        self._last_sent = time.monotonic()
        self._sent_state = state

        def drop_older() -> None:  # once the new state.json, which names the new arrays, is up
            for older in self._in_mlflow - {state["arrays"]}:
                self.uploads.delete(f"{BACKUP_ARTIFACTS}/{older}")
            self._in_mlflow = {state["arrays"]}

        files = [(arrays, BACKUP_ARTIFACTS), (self.backup.directory / BACKUP_STATE, BACKUP_ARTIFACTS)]
        # Staged here, in the backup's writer thread, which commits the next backup only after.
        self.uploads.send("backup", files, copy=False, after=drop_older, background=False)
