"""Report the monitored metric to an Optuna trial every epoch; stop when the pruner says so."""

import math

import keras

from ktrain.names import PRUNED_AT_ATTR


class OptunaPruning(keras.callbacks.Callback):
    """Reports ``monitor`` to an Optuna trial at the end of every epoch (step = epochs trained)
    and stops training once the study's pruner says the trial falls behind the others.

    The trial reaches its study through the storage, so the callback works wherever the job
    runs: in the sweeper's process, in a joblib worker, on a cluster node. A pruned trial gets
    the user attribute ``ktrain.pruned_at_epoch`` (the epochs it trained), from which its
    sweeper learns to tell Optuna PRUNED; ``pruned_at`` holds it too. Epochs whose logs lack
    ``monitor`` (``validation_freq`` > 1) or hold NaN are not reported.

    Args:
        trial: the ``optuna.Trial`` this training is, of a study with the pruner to ask.
        monitor: the key of Keras' epoch logs to report (``val_loss``).

    Example:

    >>> trial = optuna.load_study(study_name="s", storage=storage, pruner=MedianPruner()).ask()
    >>> model.fit(x, y, validation_data=(xv, yv), epochs=8, callbacks=[OptunaPruning(trial, "val_loss")])
    """

    def __init__(self, trial, monitor: str) -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value := float(value)):
            return
        self.trial.report(value, step=epoch + 1)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.trial.set_user_attr(PRUNED_AT_ATTR, self.pruned_at)
            self.model.stop_training = True
