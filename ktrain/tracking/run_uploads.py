"""What a recorded run sends to MLflow while it trains, so that losing the machine loses
neither its checkpoints nor what ``resume=<run id>`` needs: the checkpoints as Keras writes
them and the backup after its epochs are committed.

The run's recipe asks ``RunUploads`` for the two callbacks and closes it when ``fit`` is done,
however it ended: what is queued is sent, and a failed upload fails the run.
"""

import logging
from pathlib import Path

from ktrain.tracking.backup_uploads import BackupUploads
from ktrain.tracking.checkpoints import CheckpointUploads
from ktrain.tracking.logged_models import CheckpointModels
from ktrain.tracking.uploads import Uploads

log = logging.getLogger(__name__)


class RunUploads:
    """The uploads of one MLflow run, and the callbacks that hand them its files.

    Args:
        tracking_uri: the run's tracking server.
        run_id: the MLflow run.
        run_dir: the run dir (files are staged in its ``.uploads/``).

    Example:

    >>> uploads = RunUploads(tracking_uri, run_id, run_dir)
    >>> callbacks = [uploads.checkpoints({"best": run_dir / "checkpoints/best.keras"}), *theirs, backup,
    ...              uploads.backup(backup)]
    >>> model.fit(x, y, callbacks=callbacks)
    >>> uploads.close()
    """

    def __init__(self, tracking_uri: str, run_id: str, run_dir: Path):
        from mlflow import MlflowClient  # this module is imported with the recipe, MLflow with it

        self.uploads = Uploads(MlflowClient(tracking_uri), run_id, run_dir)
        self.models: CheckpointModels | None = None
        self._callbacks: list = []

    def checkpoints(
        self,
        files: dict[str, Path],
        policy: str,
        keep: int,
        copy: bool,
        metrics_of=None,
        writers: dict | None = None,
    ) -> CheckpointUploads:
        """The callback that sends the checkpoint ``files`` (by role) as the ``policy`` of
        ``mlflow.checkpoints`` says, each sent file made a LoggedModel with the metrics of its
        epoch (``metrics_of``, as ``CheckpointModels`` takes it); place it before the checkpoint
        callbacks. ``writers``: by role, the callbacks that save in a thread of their own (the
        file is sent from there)."""
        self.models = CheckpointModels(self.uploads.client, self.uploads.run_id, metrics_of or (lambda epoch: None))
        callback = CheckpointUploads(self.uploads, files, policy, keep, copy=copy, models=self.models, writers=writers)
        self._callbacks.append(callback)
        return callback

    def backup(self, backup, every_epoch_mb: float, interval_s: float) -> BackupUploads:
        """The callback that sends each committed backup; place it after the ``RunBackup``."""
        callback = BackupUploads(self.uploads, backup, every_epoch_mb, interval_s)
        self._callbacks.append(callback)
        return callback

    def close(self) -> None:
        """Send what is queued and wait for it; raise if an upload failed."""
        for callback in self._callbacks:
            callback.close()  # what a fit stopped by a signal, which skips on_train_end, left
        self.uploads.close()
        if self.models is not None:
            self.models.close()  # the checkpoints sent last, as LoggedModels
