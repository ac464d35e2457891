"""The callbacks of a run's ``fit``, each in a named slot; the slots' order is the order Keras
calls them in, so what must come before what follows from the names:

- ``GUARD``: refuses an epoch before anything keeps it (``StopOnNonFiniteLoss``: a NaN loss
  never reaches a checkpoint or the backup), and guards the checkpoint files (the checkpoint
  uploads wait for a file's staging before a checkpoint callback writes it again);
- ``CONFIGURED``: the user's callbacks (``callbacks.*``), in config order;
- ``RECORD``: the epoch's row (``EpochLog``);
- ``BACKUP``: ``RunBackup``, after every callback whose progress it keeps (Keras callbacks
  reset their progress in ``on_train_begin``, and the restore must come after that);
- ``UPLOAD``: what leaves the process once the epoch is backed up: the backup's upload, the
  MLflow logger (an epoch is logged only once committed), the Optuna report.
"""

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import keras

from ktrain.callbacks import EpochLog, ModelCheckpoint, RunBackup, StopOnNonFiniteLoss
from ktrain.names import BACKUP_DIR
from ktrain.run.build import configured_callbacks
from ktrain.schema import TrainConfig
from ktrain.sweeps.search.trial import pruning_callbacks
from ktrain.tracking.metrics import MlflowMetricsLogger
from ktrain.tracking.run_uploads import RunUploads


class Slot(IntEnum):
    GUARD = 0
    CONFIGURED = 1
    RECORD = 2
    BACKUP = 3
    UPLOAD = 4


class CallbackPlan:
    """Callbacks by slot; within a slot, in the order they were added."""

    def __init__(self) -> None:
        self._entries: list[tuple[Slot, keras.callbacks.Callback, bool]] = []

    def add(self, slot: Slot, *callbacks: keras.callbacks.Callback, restored: bool = True) -> None:
        """Add ``callbacks`` to ``slot``; ``restored``: the backup keeps their progress (those of
        the slots before ``BACKUP``; an upload's progress is what MLflow holds)."""
        self._entries += [(slot, callback, restored and slot < Slot.BACKUP) for callback in callbacks]

    def callbacks(self) -> list[keras.callbacks.Callback]:
        """Every callback, in the order Keras is to call them."""
        return [callback for _, callback, _ in sorted(self._entries, key=lambda entry: entry[0])]

    def restored(self) -> list[keras.callbacks.Callback]:
        """The callbacks whose progress the backup keeps, in order."""
        return [callback for _, callback, restored in sorted(self._entries, key=lambda e: e[0]) if restored]

    def in_slot(self, slot: Slot) -> list[keras.callbacks.Callback]:
        return [callback for entry_slot, callback, _ in self._entries if entry_slot == slot]


@dataclass
class RunCallbacks:
    """A run's callbacks, and the ones the recipe reads or closes itself."""

    plan: CallbackPlan
    epoch_log: EpochLog
    backup: RunBackup
    pruning: list
    _closing: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Commit the last backup and send what the uploads hold, whatever either raises (a
        stopped or failed fit still commits, and logs, its last epoch)."""
        with ExitStack() as stack:  # last in, first out
            for close in self._closing:
                stack.callback(close)


def plan_callbacks(config: TrainConfig, run_dir: Path, run_id: str | None, restore: bool) -> RunCallbacks:
    """The callbacks of a run in ``run_dir``, recorded in MLflow run ``run_id`` (None: not
    recorded); ``restore``: continue the backup the run dir holds."""
    plan = CallbackPlan()
    plan.add(Slot.GUARD, StopOnNonFiniteLoss())
    configured = configured_callbacks(config.callbacks)
    if not restore:  # a fresh run's history starts empty, in a run dir used before too
        for csv_log in [c for c in configured if isinstance(c, keras.callbacks.CSVLogger) and c.append]:
            Path(csv_log.filename).unlink(missing_ok=True)
    plan.add(Slot.CONFIGURED, *configured)
    epoch_log = EpochLog()
    plan.add(Slot.RECORD, epoch_log)
    backup = RunBackup(run_dir / BACKUP_DIR, plan.restored(), epochs=config.fit.epochs, restore=restore)
    plan.add(Slot.BACKUP, backup)
    closing = [backup.close]
    if run_id is not None:
        m = config.mlflow
        uploads = RunUploads(m.tracking_uri, run_id, run_dir)
        logger = MlflowMetricsLogger(run_id, epoch_log, backup)
        files, in_place = checkpoint_files(configured)
        if m.checkpoints != "end" and files:
            writers = background_writers(configured)
            checkpoints = uploads.checkpoints(
                files, m.checkpoints, m.keep_checkpoints, in_place, logger.metrics_at, writers=writers
            )
            plan.add(Slot.GUARD, checkpoints, restored=False)
        plan.add(Slot.UPLOAD, uploads.backup(backup, m.backup_every_epoch_mb, m.backup_interval_s))
        plan.add(Slot.UPLOAD, logger)
        closing.insert(0, uploads.close)  # closed after the backup, which it sends
    # Closed first: the checkpoints saved in the background are whole before anything sends them.
    closing += [c.close for c in configured if isinstance(c, ModelCheckpoint)]
    pruning = pruning_callbacks(config.optuna, config.monitor.metric)  # [] outside an Optuna search
    plan.add(Slot.UPLOAD, *pruning)
    return RunCallbacks(plan, epoch_log, backup, pruning, closing)


def checkpoint_files(callbacks) -> tuple[dict[str, Path], bool]:
    """The files the ``ModelCheckpoint`` callbacks among ``callbacks`` write, by role: ``best``
    (``save_best_only``) and ``last``; a file name with ``{epoch}`` placeholders is left to
    the upload at the run's end. And whether any of them is rewritten in place (Keras' own
    ``ModelCheckpoint``, not ktrain's): those are copied aside before they are uploaded."""
    roles = _checkpoint_roles(callbacks)
    in_place = any(not isinstance(callback, ModelCheckpoint) for callback in roles.values())
    return {role: Path(callback.filepath) for role, callback in roles.items()}, in_place


def background_writers(callbacks) -> dict[str, ModelCheckpoint]:
    """Of the checkpoint files' callbacks (``checkpoint_files``), those that save in a writer
    thread, by role: the uploads follow their saves (``ModelCheckpoint.then``)."""
    return {
        role: callback
        for role, callback in _checkpoint_roles(callbacks).items()
        if isinstance(callback, ModelCheckpoint) and callback.background
    }


def _checkpoint_roles(callbacks) -> dict[str, keras.callbacks.ModelCheckpoint]:
    roles = {}
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.ModelCheckpoint) and "{" not in str(callback.filepath):
            roles.setdefault("best" if callback.save_best_only else "last", callback)
    return roles
