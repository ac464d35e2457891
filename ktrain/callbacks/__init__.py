"""ktrain's own Keras callbacks, one per module, each for what Keras' own do not do; what
they share is in ``base.py``.

They know nothing of Hydra or MLflow (the MLflow logger is ``ktrain.tracking.metrics``): this
package imports Keras, NumPy, ``ktrain.names`` and ``ktrain.errors`` only.
"""

from ktrain.callbacks.epoch_log import EpochLog
from ktrain.callbacks.model_checkpoint import ModelCheckpoint
from ktrain.callbacks.run_backup import RunBackup, read_state
from ktrain.callbacks.stop_on_non_finite_loss import StopOnNonFiniteLoss

__all__ = ["EpochLog", "ModelCheckpoint", "RunBackup", "StopOnNonFiniteLoss", "read_state"]
