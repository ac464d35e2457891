"""ktrain's ModelCheckpoint: Keras' own, but a save is whole or not there at all."""

import functools
import os

import keras
import numpy as np
import pytest

from ktrain.callbacks import ModelCheckpoint
from ktrain.callbacks.model_checkpoint import WRITING_PREFIX
from ktrain.data.arrays import DigitsData


@keras.saving.register_keras_serializable(package="ktrain_tests")
class Fragile(keras.layers.Layer):
    """A layer that passes its input on and whose state fails to save once ``broken`` is set
    (a disk that fills up, a process killed while it saves)."""

    broken = False

    def call(self, inputs):
        return inputs

    def save_own_variables(self, store):
        if Fragile.broken:
            raise OSError("No space left on device")
        super().save_own_variables(store)


class BreakSavingAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        Fragile.broken = True


def digits_model(data):
    model = keras.Sequential(
        [
            keras.Input(data.spec.input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            Fragile(),
            keras.layers.Dense(data.spec.num_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def fit_until_saving_breaks(checkpoint) -> keras.Model:
    """Fit 3 epochs with ``checkpoint``, saving failing from the first epoch's end on (as a disk
    that fills up); check that fit raises the save's error; return the model."""
    Fragile.broken = False
    data = DigitsData(batch_size=64)
    model = digits_model(data)
    try:
        with pytest.raises(OSError, match="No space left on device"):
            model.fit(
                **data.split("train").fit_args(),
                epochs=3,
                verbose=0,
                callbacks=[checkpoint, BreakSavingAfterFirstEpoch()],
            )
    finally:
        Fragile.broken = False
    return model


@pytest.mark.parametrize(
    "checkpoint_class, kept",
    [
        (ModelCheckpoint, True),
        (keras.callbacks.ModelCheckpoint, False),
        # Saved in the background: the failure is raised by fit all the same, at the next save or its end.
        (functools.partial(ModelCheckpoint, background=True), True),
    ],
    ids=["ktrain", "keras", "ktrain-background"],
)
def test_a_save_that_fails_midway_keeps_the_previous_checkpoint(tmp_path, checkpoint_class, kept):
    # Keras' own saves into the file itself: the failed save leaves it truncated. ktrain's keeps
    # epoch 1's checkpoint, and leaves no part file.
    path = tmp_path / "last.keras"
    model = fit_until_saving_breaks(checkpoint_class(path))
    assert path.exists()
    if kept:
        saved = keras.saving.load_model(path)
        assert len(saved.weights) == len(model.weights)
        assert sorted(os.listdir(tmp_path)) == ["last.keras"]
    else:
        with pytest.raises(Exception):  # noqa: B017 (whatever Keras raises on a truncated zip)
            keras.saving.load_model(path)


def test_every_save_is_a_new_file_and_the_best_keeps_its_own(tmp_path):
    # What lets the uploads hard-link a checkpoint instead of copying it: a file once written
    # never changes (a link to it still reads that epoch's model).
    data = DigitsData(batch_size=64)
    model = digits_model(data)
    best, last = tmp_path / "best.keras", tmp_path / "last.keras"
    (tmp_path / (WRITING_PREFIX + "best.keras")).write_bytes(b"left by a killed save")

    class Link(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.inodes = []

        def on_epoch_end(self, epoch, logs=None):  # after the checkpoints: the file of this epoch
            os.link(last, tmp_path / f"epoch-{epoch + 1}.keras")
            self.inodes.append(last.stat().st_ino)

    link = Link()
    checkpoints = [ModelCheckpoint(best, save_best_only=True, monitor="loss"), ModelCheckpoint(last)]
    model.fit(**data.split("train").fit_args(), epochs=3, verbose=0, callbacks=[*checkpoints, link])
    assert len(set(link.inodes)) == 3
    first = keras.saving.load_model(tmp_path / "epoch-1.keras")
    final = keras.saving.load_model(last)
    assert not np.allclose(first.layers[-1].get_weights()[0], final.layers[-1].get_weights()[0])
    assert np.allclose(final.layers[-1].get_weights()[0], model.layers[-1].get_weights()[0])
    assert not (tmp_path / (WRITING_PREFIX + "best.keras")).exists()


def test_a_checkpoint_saved_in_the_background_is_the_model_of_its_epoch(tmp_path):
    # The loop copies the variables and goes on training while the writer thread saves: each
    # file must hold the weights and optimizer step of the epoch that asked for it, not later ones.
    data = DigitsData(batch_size=64)
    model = digits_model(data)
    last = tmp_path / "last.keras"
    checkpoint = ModelCheckpoint(last, background=True)

    class Record(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.weights, self.steps = [], []

        def on_epoch_end(self, epoch, logs=None):  # after the checkpoint: link its file once whole
            self.weights.append([w.copy() for w in self.model.get_weights()])
            self.steps.append(int(self.model.optimizer.iterations.numpy()))
            checkpoint.then(lambda epoch=epoch: os.link(last, tmp_path / f"epoch-{epoch + 1}.keras"))

    record = Record()
    model.fit(**data.split("train").fit_args(), epochs=4, verbose=0, callbacks=[checkpoint, record])
    for epoch in range(4):
        saved = keras.saving.load_model(tmp_path / f"epoch-{epoch + 1}.keras")
        for ours, theirs in zip(saved.get_weights(), record.weights[epoch]):
            np.testing.assert_array_equal(ours, theirs)
        assert int(saved.optimizer.iterations.numpy()) == record.steps[epoch]
    assert not any(name.startswith(WRITING_PREFIX) for name in os.listdir(tmp_path))


def test_background_must_be_a_bool():
    with pytest.raises(ValueError, match="background must be True or False"):
        ModelCheckpoint("x.keras", background="yes")
