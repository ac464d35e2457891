"""A Keras callback that times every epoch, callbacks' work included, for throughput figures.

An epoch's time runs from its ``on_epoch_begin`` to the next epoch's (or to the end of
training), so what other callbacks do at an epoch's end (checkpoints, backups, logging)
counts. Place it first, as ``+callbacks.throughput`` is in ktrain's list. With
``stop_after_epochs`` it ends training after that many epochs: a run can then be configured
for the length it stands for (``fit.epochs``, which the execution probe weighs its trials
against) and measured over a few epochs.
"""

import json
import time
from pathlib import Path

import keras


class Throughput(keras.callbacks.Callback):
    def __init__(self, path: str, images_per_epoch: int, stop_after_epochs: int | None = None):
        super().__init__()
        self.path = Path(path)
        self.images_per_epoch = images_per_epoch
        self.stop_after_epochs = stop_after_epochs
        self.starts: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.starts.append(time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        if self.stop_after_epochs is not None and len(self.starts) >= self.stop_after_epochs:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        ends = self.starts[1:] + [time.perf_counter()]
        seconds = [end - start for start, end in zip(self.starts, ends)]
        self.path.write_text(
            json.dumps(
                {
                    "epoch_seconds": seconds,
                    "images_per_second": [self.images_per_epoch / s for s in seconds],
                }
            )
        )
