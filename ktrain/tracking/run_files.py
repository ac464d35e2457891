"""What a recorded run sends to MLflow while it trains, so that losing the machine loses
neither its checkpoints nor what ``resume=<run id>`` needs: the checkpoints as Keras writes
them (``mlflow.checkpoints``) and the backup after its epochs are committed.

``training`` asks ``RunFiles`` for its callbacks and closes it when ``fit`` is done, however
it ended: what is queued is sent, and a failed upload fails the run.
"""

import logging
from pathlib import Path

from ktrain.schema import TrainConfig
from ktrain.tracking.backup_uploads import BackupUploads
from ktrain.tracking.checkpoints import CheckpointUploads, checkpoint_files

log = logging.getLogger(__name__)


class RunFiles:
    """The uploads of one run; with ``run_id`` None (a run not recorded), none.

    Args:
        config: the run's config (``mlflow.checkpoints`` and the backup's upload settings).
        run_id: the MLflow run.
        run_dir: the run dir (files are staged in its ``.uploads/``).
        configured: the configured Keras callbacks, whose checkpoints are sent.
        backup: the run's ``RunBackup``, sent after its epochs are committed.
    """

    def __init__(self, config: TrainConfig, run_id: str | None, run_dir: Path, configured: list, backup):
        self.uploads = None
        self.first: list = []  # callbacks to place before the configured ones
        self.last: list = []  # and after the backup
        if run_id is None:
            return
        from mlflow import MlflowClient  # this module is imported with training, MLflow with it

        from ktrain.tracking.uploads import Uploads

        self.uploads = Uploads(MlflowClient(config.mlflow.tracking_uri), run_id, run_dir)
        m = config.mlflow
        files, in_place = checkpoint_files(configured)
        if m.checkpoints != "end" and files:
            self.first.append(CheckpointUploads(self.uploads, files, m.checkpoints, m.keep_checkpoints, copy=in_place))
        self.last.append(BackupUploads(self.uploads, backup, m.backup_every_epoch_mb, m.backup_interval_s))

    def close(self) -> None:
        """Send what is queued and wait for it; raise if an upload failed."""
        if self.uploads is None:
            return
        for callback in [*self.first, *self.last]:
            callback.close()  # what a fit stopped by a signal, which skips on_train_end, left
        self.uploads.close()
