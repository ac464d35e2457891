"""The values ktrain checks of the Keras callbacks its configs use.

The keys every Keras callback takes come from Keras' own signatures (``keywords.py``), so a
key a callback's class takes is allowed whether or not it is typed here; a callback that is no
Keras class (a user's own) takes any keyword argument. Each schema is named after its Keras
class, with ``Node``: ``ModelCheckpointNode`` is the config of a ``ModelCheckpoint``.
"""

import importlib.util
from typing import Literal

from pydantic import model_validator

from ktrain.schema.base import KerasTarget, NonNegativeFloat, NonNegativeInt, OpenRate, SaveFreq


class EarlyStoppingNode(KerasTarget):
    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"
    patience: NonNegativeInt = 0
    min_delta: NonNegativeFloat = 0.0
    baseline: float | None = None
    restore_best_weights: bool = False
    start_from_epoch: NonNegativeInt = 0
    verbose: Literal[0, 1] = 0


class ModelCheckpointNode(KerasTarget):
    filepath: str
    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"
    save_best_only: bool = False
    save_weights_only: bool = False
    save_freq: SaveFreq = "epoch"
    initial_value_threshold: float | None = None
    verbose: Literal[0, 1] = 0

    @model_validator(mode="after")
    def _keras_file_name(self):
        suffix = ".weights.h5" if self.save_weights_only else ".keras"
        if not self.filepath.endswith(suffix):
            raise ValueError(
                f"filepath {self.filepath!r} must end in {suffix!r} (save_weights_only={self.save_weights_only})"
            )
        return self


class KtrainModelCheckpointNode(ModelCheckpointNode):
    """``ktrain.callbacks.ModelCheckpoint``: Keras' keys, and whether it saves in a writer thread."""

    background: bool = False


class ReduceLROnPlateauNode(KerasTarget):
    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"
    factor: OpenRate = 0.1
    patience: NonNegativeInt = 10
    min_delta: NonNegativeFloat = 1e-4
    cooldown: NonNegativeInt = 0
    min_lr: NonNegativeFloat = 0.0
    verbose: Literal[0, 1] = 0


class CSVLoggerNode(KerasTarget):
    filename: str
    separator: str = ","
    append: bool = False


class TensorBoardNode(KerasTarget):
    log_dir: str = "logs"
    histogram_freq: NonNegativeInt = 0
    write_graph: bool = True
    write_images: bool = False
    write_steps_per_second: bool = False
    update_freq: SaveFreq = "epoch"
    profile_batch: NonNegativeInt = 0

    @model_validator(mode="after")
    def _tensorboard_installed(self):
        # TensorFlow does not install it; Keras' callback fails at its first summary, after the first epoch.
        if importlib.util.find_spec("tensorboard") is None:
            raise ValueError(
                "needs the tensorboard package, which is not installed here: pip install "
                "'ktrain-hydra[tensorboard]' (or pip install tensorboard), or leave the callback out "
                "(callbacks=default)"
            )
        return self


CALLBACKS = {
    "keras.callbacks.EarlyStopping": EarlyStoppingNode,
    "keras.callbacks.ModelCheckpoint": ModelCheckpointNode,
    "ktrain.callbacks.ModelCheckpoint": KtrainModelCheckpointNode,
    "keras.callbacks.ReduceLROnPlateau": ReduceLROnPlateauNode,
    "keras.callbacks.CSVLogger": CSVLoggerNode,
    "keras.callbacks.TensorBoard": TensorBoardNode,
}
