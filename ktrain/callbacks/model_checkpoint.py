"""Keras' ``ModelCheckpoint``, writing each checkpoint whole or not at all."""

import contextlib
import os

import keras

# The hidden name a checkpoint is saved under until it is complete; it keeps the checkpoint's
# suffix, which Keras checks (``.keras``, ``.weights.h5``).
WRITING_PREFIX = ".writing-"


class ModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """``keras.callbacks.ModelCheckpoint`` that never leaves a half-written checkpoint.

    Keras saves into the checkpoint's own file (``open(filepath, "wb")``), so a process
    killed while it saves (a ResNet50 checkpoint is 100 MB) leaves a truncated file where
    the last good checkpoint was. This one saves beside it under a hidden name
    (``.writing-best.keras``) and renames that over the old file once the save is complete
    (``os.replace``, atomic within one file system). Every save is thus a new file, which
    also lets ktrain's uploads hard-link it instead of copying it aside
    (``ktrain.tracking.checkpoints``).

    Args:
        The same as ``keras.callbacks.ModelCheckpoint``. A remote ``filepath`` (``gs://``) is
        saved as Keras saves it.

    Example:

    >>> checkpoint = ModelCheckpoint("checkpoints/best.keras", monitor="val_loss", save_best_only=True)
    >>> model.fit(x, y, validation_split=0.1, callbacks=[checkpoint])
    """

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if "{" not in self.filepath and "://" not in self.filepath:  # what a killed save left
            folder, name = os.path.split(self.filepath)
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, WRITING_PREFIX + name))

    def _save_model(self, epoch, batch, logs):
        # Keras' own, but for the file it writes: the decision and its messages are Keras'.
        filepath = self._get_file_path(epoch, batch, logs)
        if "://" in filepath:  # a remote path (gs://...): no rename there is one atomic step
            return super()._save_model(epoch, batch, logs)
        if not self._should_save_model(epoch, batch, logs, filepath):
            return
        folder, name = os.path.split(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        writing = os.path.join(folder, WRITING_PREFIX + name)
        try:
            if self.save_weights_only:
                self.model.save_weights(writing, overwrite=True)
            else:
                self.model.save(writing, overwrite=True)
            os.replace(writing, filepath)
        finally:
            if os.path.exists(writing):  # a save that failed: the previous checkpoint stays
                os.remove(writing)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")
