"""What a run needs to continue after a crash, saved at the end of every epoch.

Keras' ``BackupAndRestore`` restores weights, optimizer state and the epoch, but not the
callbacks' own progress (early stopping's patience count and best value, reduce-lr's plateau
counter, the best checkpoint's value) nor the per-epoch history, and it rewrites its files in
place, so a kill during a save can tear them. ``RunBackup`` keeps all of that, and commits an
epoch by atomically replacing one small JSON file that names the epoch's arrays file: a kill
at any moment leaves the previous epoch's backup or the new one, never a mix.

The arrays are the values of the model's and the optimizer's variables, in order, their bytes
one after another in one file, where each is kept in the state's ``layout``:
``Model.save_weights`` walks every Keras object on each call (about 70 ms for the default
small CNN, a tenth of a digits epoch), and a resumed run rebuilds the same model from the same
config, so the order is all that is needed. (Not an ``.npz``: ``np.savez`` writes each array
through the zip module, 2.2 ms of CPU for the default CNN's 26 against 0.14 ms raw, measured,
and more while a checkpoint is saved at the same moment. A backup written as an ``.npz`` by
an earlier ktrain is still read.)

The training loop only copies the values to host memory; a background thread writes them
(a ResNet50 with Adam is 300 MB) once the next epoch's training has begun
(``BackgroundWriter``), while it trains. ``then`` queues work behind the latest save, such
as logging the epoch to MLflow, so that nothing reports an epoch before its backup is
committed. At most one save waits, so a slow disk slows training rather than filling memory.
"""

import csv
import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from ktrain.callbacks.base import BackgroundWriter, host_value
from ktrain.callbacks.epoch_log import EpochLog
from ktrain.errors import UserError
from ktrain.names import BACKUP_STATE as STATE_FILE
from ktrain.resume import interrupts

log = logging.getLogger(__name__)

# The attributes that hold a callback's progress; its settings come from the config.
CALLBACK_STATE = {
    keras.callbacks.EarlyStopping: ("wait", "stopped_epoch", "best", "best_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
    keras.callbacks.ModelCheckpoint: ("best",),
    EpochLog: ("rows",),
}


def read_state(directory: Path) -> dict | None:
    """The last committed backup in ``directory``, or None if there is none."""
    try:
        return json.loads((Path(directory) / STATE_FILE).read_text())
    except FileNotFoundError:
        return None


class RunBackup(keras.callbacks.Callback):
    """Saves weights, optimizer state, epoch and ``callbacks``' progress after every epoch;
    with ``restore``, first restores them when training begins, if ``directory`` holds a
    backup. Without it, an old backup in ``directory`` is replaced at the first epoch's end.

    Place it after the callbacks it keeps: Keras callbacks reset their progress in
    ``on_train_begin``, and the restore must come after that.

    Args:
        directory: where the backup is kept (a run dir's ``backup/``).
        callbacks: the callbacks whose progress is kept with it, in the order they run.
        epochs: the run's ``fit.epochs``, saved to tell a finished training from a stopped one.
        restore: whether to restore the backup ``directory`` holds when training begins.

    Example:

    >>> early_stopping = keras.callbacks.EarlyStopping(patience=3)
    >>> backup = RunBackup("run/backup", [early_stopping], epochs=20)
    >>> model.fit(x, y, epochs=20, initial_epoch=backup.next_epoch, callbacks=[early_stopping, backup])
    """

    def __init__(self, directory: Path, callbacks: list, epochs: int, restore: bool = True):
        super().__init__()
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        self.directory = Path(directory)
        self.callbacks = callbacks
        self.epochs = epochs
        self.state = read_state(self.directory) if restore else None
        # A run may call fit more than once (a fine-tune's two phases): the backup is restored
        # at the first fit's start only. Later fits go on from the live model and callbacks, and
        # by then ``state`` is this run's own latest epoch, whose file may not be written yet.
        self._restore_pending = self.state is not None
        # What the run calls the stage its epochs are in (a fine-tune's "head" or "fine_tune";
        # None for a run of one fit), recorded with each epoch so that a resume can tell.
        self.phase: str | None = None
        self._writer = BackgroundWriter("ktrain-backup")

    @property
    def next_epoch(self) -> int:
        """The first epoch not yet completed (0 without a backup)."""
        return self.state["epoch"] if self.state else 0

    @property
    def finished_training(self) -> bool:
        """Whether the backed-up training had ended (stopped early, or all epochs done) and
        ``epochs`` does not ask for more."""
        if not self.state:
            return False
        return self.epochs <= self.state["epochs"] and (self.state["stopped"] or self.state["epoch"] >= self.epochs)

    @property
    def backed_up_phase(self) -> str | None:
        """The ``phase`` of the last backed-up epoch (None without a backup)."""
        return self.state.get("phase") if self.state else None

    def on_train_begin(self, logs=None):
        if not self._restore_pending:
            return
        self._restore_pending = False
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        arrays = _read_arrays(self.directory, self.state)
        _assign(model.weights, arrays, "model", self.directory)
        _assign(model.optimizer.variables, arrays, "optimizer", self.directory)
        for index, (callback, saved) in enumerate(zip(self.callbacks, self.state["callbacks"])):
            for name, value in saved["attributes"].items():
                setattr(callback, name, value)
            if saved.get("best_weights") is not None:
                callback.best_weights = [arrays[f"callback{index}.{i}"] for i in range(saved["best_weights"])]
            if isinstance(callback, keras.callbacks.CSVLogger):
                _drop_rows_from(Path(callback.filename), self.next_epoch)
        log.info("resume: restored weights, optimizer state and callbacks from the backup of epoch %d", self.next_epoch)

    def on_train_batch_begin(self, batch, logs=None):
        self._writer.release()
        interrupts.raise_if_swallowed()  # a stop raised where Python ignored it ends the run here

    def on_epoch_end(self, epoch, logs=None):
        self.close()  # at most one save in flight: the previous epoch's must be done
        self._writer.hold()  # until the next epoch's training begins
        arrays = {**_values("model", self.model.weights), **_values("optimizer", self.model.optimizer.variables)}
        callbacks = []
        for index, callback in enumerate(self.callbacks):
            saved = {"class": type(callback).__name__, "attributes": _attributes(callback)}
            best_weights = getattr(callback, "best_weights", None)
            if best_weights is not None:
                saved["best_weights"] = len(best_weights)
                arrays.update({f"callback{index}.{i}": np.array(value) for i, value in enumerate(best_weights)})
            callbacks.append(saved)
        state = {
            "epoch": epoch + 1,
            "epochs": self.epochs,
            "stopped": bool(self.model.stop_training),
            "phase": self.phase,
            "arrays": f"epoch-{epoch + 1:05d}.bin",
            "callbacks": callbacks,
        }
        self.state = state
        self.then(lambda: self._write(arrays, state))

    def on_train_end(self, logs=None):
        self.close()

    def then(self, work: Callable[[], None]) -> None:
        """Run ``work`` in the writer thread once every save queued so far is committed."""
        self._writer.then(work)

    def close(self) -> None:
        """Wait for the queued saves and work; raise the first error one of them met."""
        self._writer.close()

    def _write(self, arrays: dict[str, np.ndarray], state: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        layout = _write_arrays(self.directory / state["arrays"], arrays)
        _write_atomically(self.directory / STATE_FILE, json.dumps({**state, "layout": layout}))
        for path in self.directory.iterdir():
            if path.name not in (STATE_FILE, state["arrays"]):
                path.unlink()


def _values(prefix: str, variables) -> dict[str, np.ndarray]:
    """The variables' values in host memory, kept as they are now while training goes on."""
    return {f"{prefix}.{i}": host_value(v) for i, v in enumerate(variables)}


def _write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> list:
    """Write the arrays' bytes one after another into ``path``; return where each one is:
    ``[name, dtype, shape, offset]``."""
    layout, offset = [], 0
    with open(path, "wb") as f:
        for name, value in arrays.items():
            value = np.asarray(value, order="C")  # not ascontiguousarray, which makes a scalar 1-D
            f.write(value.reshape(-1).view(np.uint8))
            layout.append([name, str(value.dtype), list(value.shape), offset])
            offset += value.nbytes
    return layout


def _read_arrays(directory: Path, state: dict) -> dict[str, np.ndarray]:
    """The arrays of the backup ``state`` commits, by name."""
    path = directory / state["arrays"]
    if "layout" not in state:  # an .npz of an earlier ktrain
        with np.load(path) as arrays:
            return {name: arrays[name] for name in arrays.files}
    data = np.fromfile(path, dtype=np.uint8)
    arrays = {}
    for name, dtype, shape, offset in state["layout"]:
        dtype = np.dtype(dtype)
        end = offset + dtype.itemsize * math.prod(shape)
        if end > data.size:
            raise UserError(
                f"The backup's arrays file {path} is {data.size} bytes, shorter than its state.json "
                f"says ({end} bytes at least): it was cut short or replaced. Resume from the run's "
                "MLflow backup (resume=<run id>, from an empty folder), or start a new run."
            )
        arrays[name] = data[offset:end].view(dtype).reshape(tuple(shape))
    return arrays


def _assign(variables, arrays: dict[str, np.ndarray], prefix: str, directory: Path) -> None:
    count = sum(1 for key in arrays if key.startswith(f"{prefix}."))
    shapes = [(v, tuple(v.shape), arrays[f"{prefix}.{i}"].shape) for i, v in enumerate(variables) if count > i]
    differ = next(((v, built, saved) for v, built, saved in shapes if built != tuple(saved)), None)
    if count != len(variables) or differ is not None:
        found = (
            f"the variable {differ[0].path} is shaped {differ[1]} in the rebuilt {prefix} and {tuple(differ[2])} "
            "in the backup"
            if count == len(variables)
            else f"it holds {count} {prefix} variables, and the rebuilt {prefix} has {len(variables)}"
        )
        raise UserError(
            f"The backup in {directory} does not fit the rebuilt {prefix}: {found}. The code or config that "
            "builds it has changed since the run started. Resume with the code the run started with, or "
            "start a new run."
        )
    for i, variable in enumerate(variables):
        variable.assign(arrays[f"{prefix}.{i}"])


def _attributes(callback) -> dict:
    names = next((names for kind, names in CALLBACK_STATE.items() if isinstance(callback, kind)), ())
    return {name: _plain(getattr(callback, name)) for name in names if hasattr(callback, name)}


def _plain(value):
    """A value as JSON takes it: NumPy and backend scalars become Python numbers."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "item"):
        return value.item()
    return value


def _write_atomically(path: Path, text: str) -> None:
    """Write a new file and rename it over ``path``: a killed process leaves the old text or
    the new, never a part. (No fsync: what a killed process wrote survives in the OS's page
    cache, and an fsync per epoch would cost more than the rest of the backup.)"""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _drop_rows_from(path: Path, epoch: int) -> None:
    """Keep the rows of a CSVLogger file for epochs before ``epoch``: the later ones are
    trained again."""
    if not path.is_file():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or "epoch" not in rows[0]:
        return
    column = rows[0].index("epoch")
    kept = [rows[0]] + [row for row in rows[1:] if row and int(row[column]) < epoch]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(kept)
