"""Keras' ``ModelCheckpoint``, writing each checkpoint whole or not at all, and, if asked, in
a writer thread while training goes on."""

import contextlib
import logging
import os
import weakref
from collections.abc import Callable

import keras

from ktrain.callbacks.base import BackgroundWriter, host_value

log = logging.getLogger(__name__)

# The hidden name a checkpoint is saved under until it is complete; it keeps the checkpoint's
# suffix, which Keras checks (``.keras``, ``.weights.h5``).
WRITING_PREFIX = ".writing-"
# Keras' saving skips, on every object it walks, the attributes a plain object of the kind has;
# it keeps those names per thread, but reads them under another key than it writes
# ("skiplist", "skipset"; Keras 3.10 to 3.15), so each save builds a plain Optimizer, whose
# variables a StatelessScope refuses. The writer thread sets the key Keras reads.
SAVING_KINDS = ("Operation", "Layer", "Functional", "Sequential", "Metric", "Optimizer", "Loss", "Cross", "Feature")
# The models a save in a writer thread has succeeded for: the first save of each is waited for.
_PROVEN: "weakref.WeakSet" = weakref.WeakSet()


class ModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """``keras.callbacks.ModelCheckpoint`` that never leaves a half-written checkpoint, and
    can save in the background.

    Keras saves into the checkpoint's own file (``open(filepath, "wb")``), so a process
    killed while it saves (a ResNet50 checkpoint is 100 MB) leaves a truncated file where
    the last good checkpoint was. This one saves beside it under a hidden name
    (``.writing-best.keras``) and renames that over the old file once the save is complete
    (``os.replace``, atomic within one file system). Every save is thus a new file, which
    also lets ktrain's uploads hard-link it instead of copying it aside
    (``ktrain.tracking.checkpoints``).

    With ``background=True`` a save is made the way ``RunBackup`` makes the backup: the
    training loop copies the values of the model's, the optimizer's and the metrics'
    variables (0.5 ms for the default CNN, where Keras' save took 30 to 70 ms) and goes on,
    and a writer thread serialises the ``.keras`` file from that copy once the next epoch's
    training has begun (``BackgroundWriter``; Keras' own saving, reading the copy through a
    ``keras.StatelessScope``), then renames it into place. The first save of a model is waited
    for, so that a model Keras cannot save that way is saved as Keras saves it from then on.
    At most one save waits: the next one waits for it, so a slow disk slows training rather
    than filling memory. An error of a save is raised by the next save, or when training ends.
    ``then`` queues work behind the saves, such as an upload of the file once it is whole.

    Args:
        background: save in a writer thread (False: in the training loop, as Keras does).
        The others as ``keras.callbacks.ModelCheckpoint``. A remote ``filepath`` (``gs://``)
        is saved as Keras saves it.

    Example:

    >>> checkpoint = ModelCheckpoint("checkpoints/best.keras", monitor="val_loss", save_best_only=True)
    >>> model.fit(x, y, validation_split=0.1, callbacks=[checkpoint])
    >>> last = ModelCheckpoint("checkpoints/last.keras", background=True)
    >>> model.fit(x, y, epochs=20, callbacks=[last])  # the file is whole when fit returns
    """

    def __init__(self, filepath, *args, background: bool = False, **kwargs):
        if not isinstance(background, bool):
            raise ValueError(f"background must be True or False, got {background!r}")
        super().__init__(filepath, *args, **kwargs)
        self.background = background
        self._writer = BackgroundWriter("ktrain-checkpoint")

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if "{" not in self.filepath and "://" not in self.filepath:  # what a killed save left
            folder, name = os.path.split(self.filepath)
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, WRITING_PREFIX + name))

    def on_train_batch_begin(self, batch, logs=None):
        self._writer.release()

    def on_train_end(self, logs=None):
        self.close()

    def then(self, work: Callable[[], None]) -> None:
        """Run ``work`` once every save made so far is whole on disk: in the writer thread,
        behind the queued saves (at once, here, when nothing is saved in the background)."""
        if self._writer.started:
            self._writer.then(work)
        else:
            work()

    def close(self) -> None:
        """Wait for the saves and work queued; raise the first error one of them met."""
        self._writer.close()

    def _save_model(self, epoch, batch, logs):
        # Keras' own, but for the file it writes: the decision and its messages are Keras'.
        filepath = self._get_file_path(epoch, batch, logs)
        if "://" in filepath:  # a remote path (gs://...): no rename there is one atomic step
            return super()._save_model(epoch, batch, logs)
        if not self._should_save_model(epoch, batch, logs, filepath):
            return
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.background:
            self._save_in_background(filepath)
        else:
            _save(self.model, filepath, self.save_weights_only)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {'saving' if self.background else 'finished saving'} model to {filepath}")

    def _save_in_background(self, filepath: str) -> None:
        self.close()  # at most one save in flight: the previous one must be done
        model = self.model
        seen: set[int] = set()
        variables = [
            v
            for v in (*model.variables, *_optimizer_variables(model), *model.metrics_variables)
            if not (id(v) in seen or seen.add(id(v)))
        ]
        copy = [(variable, host_value(variable)) for variable in variables]
        if model in _PROVEN:
            self._writer.hold()  # until the next epoch's training begins (or training ends)
            self._writer.then(lambda: _save_copy(model, filepath, self.save_weights_only, copy))
            return
        try:  # the first save is waited for: the model, unchanged meanwhile, is saved either way
            self._writer.then(lambda: _save_copy(model, filepath, self.save_weights_only, copy))
            self._writer.close()
            _PROVEN.add(model)
        except _CopyRefused as refused:
            log.warning("checkpoint: %s; this run's checkpoints are saved in the training loop", refused)
            self.background = False
            _save(model, filepath, self.save_weights_only)


class _CopyRefused(Exception):
    """Keras' saving made a variable while it read the copy (a StatelessScope forbids it)."""


def _optimizer_variables(model) -> list:
    optimizer = getattr(model, "optimizer", None)
    return list(optimizer.variables) if optimizer is not None else []


def _save_copy(model, filepath: str, weights_only: bool, copy: list) -> None:
    """In the writer thread: save ``model`` as it was when ``copy`` (variable, value) was made."""
    _mark_skipped_attributes()
    try:
        with keras.StatelessScope(state_mapping=copy):
            _save(model, filepath, weights_only)
    except ValueError as error:
        if "stateless scope" not in str(error):
            raise
        raise _CopyRefused(str(error).split(".")[0]) from error


def _mark_skipped_attributes() -> None:
    """Set, for this thread, the names Keras' saving skips under the key it reads them from
    (see ``SAVING_KINDS``); nothing where Keras has moved them."""
    try:
        from keras.src.backend.common import global_state
        from keras.src.saving.saving_lib import get_attr_skipset
    except ImportError:
        return
    for kind in SAVING_KINDS:
        if global_state.get_global_attribute(f"saving_attr_skiplist_{kind}") is None:
            global_state.set_global_attribute(f"saving_attr_skiplist_{kind}", get_attr_skipset(kind))


def _save(model, filepath: str, weights_only: bool) -> None:
    """Save under a hidden name beside ``filepath``, then rename it over ``filepath``."""
    folder, name = os.path.split(filepath)
    writing = os.path.join(folder, WRITING_PREFIX + name)
    try:
        if weights_only:
            model.save_weights(writing, overwrite=True)
        else:
            model.save(writing, overwrite=True)
        os.replace(writing, filepath)
    finally:
        if os.path.exists(writing):  # a save that failed: the previous checkpoint stays
            os.remove(writing)
