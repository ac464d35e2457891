"""A backbone fine-tuned in two phases, as Keras' transfer-learning guide does it
(keras.io/guides/transfer_learning), in one run: ``fine_tune=two_phase``.

Phase 1 (``head``) trains the head for ``fine_tune.head_epochs`` epochs, the backbone frozen
(the schema's rules build it with ``model.trainable=false``, so it also runs in inference
mode). Phase 2 (``fine_tune``) unfreezes the backbone's top ``fine_tune.unfreeze`` layers (or
all), BatchNormalization layers kept frozen, compiles the model again with a new optimizer
at ``optimizer.learning_rate`` times ``fine_tune.learning_rate_factor``, and trains on from
the next epoch to ``fit.epochs``: one history, epochs numbered on, one MLflow run.

Two ``Model.fit`` calls share the run's callbacks, and Keras callbacks reset in
``on_train_begin``. What each does across the phase change, and why:

- EarlyStopping and ReduceLROnPlateau start afresh in phase 2, as in the guide's two fits:
  the head's plateau says nothing of the fine-tune's, which trains other weights at another
  rate. Early stopping in phase 1 ends phase 1 (the head has learnt what it can); phase 2
  begins at the next epoch.
- ModelCheckpoint keeps its best value (Keras does not reset it), so that
  ``checkpoints/best.keras`` is the best of the whole run.
- CSVLogger appends in phase 2; it would truncate its file otherwise.
- EpochLog keeps its rows, so the history is one; the MLflow logger checks for restored
  epochs at the first fit only.
- RunBackup restores at the first fit only, and records each epoch's phase. A resumed run
  goes on in the phase of its last backed-up epoch, phase 2 set up (unfrozen, recompiled)
  before the fit whose start restores the optimizer's variables, which the backup matches
  by count and order.
"""

import logging
from collections.abc import Callable, Sequence

import keras

from ktrain.callbacks import RunBackup
from ktrain.errors import UserError
from ktrain.models.backbone import base_of, unfreeze
from ktrain.run.compiling import recompile
from ktrain.schema import TrainConfig
from ktrain.tasks import Target

log = logging.getLogger(__name__)

HEAD, FINE_TUNE = "head", "fine_tune"  # the phases, as the backup records them


def fit_in_phases(
    model: keras.Model,
    config: TrainConfig,
    targets: Sequence[Target],
    fit: Callable[..., object],
    arguments: dict,
    backup: RunBackup,
    callbacks: list,
    strategy,
) -> None:
    """Train ``model`` in the two phases of ``config.fine_tune``, going on from ``backup``.

    ``fit(**overrides)`` is one ``Model.fit`` with the run's ``callbacks`` and ``arguments``
    (``ktrain.run.fitting.fit_arguments``), the overrides applied; ``strategy`` is the scope phase 2's
    optimizer is made in.
    """
    plan = config.fine_tune
    base = base_of(model)
    _check_unfreeze(base, plan.unfreeze)
    start = arguments["initial_epoch"]
    # Until phase 2 has begun the training cannot have finished: an early stop in phase 1,
    # which the backup records as stopped, ends only phase 1.
    epochs = arguments["epochs"] if backup.backed_up_phase == FINE_TUNE else config.fit.epochs
    boundary = config.fit.initial_epoch + plan.head_epochs
    if _head_epochs_left(backup, boundary):
        log.info("fine_tune: phase 1 of 2, epochs %d to %d: the head trains, %s frozen", start + 1, boundary, base.name)
        backup.phase = HEAD
        fit(initial_epoch=start, epochs=boundary)
        start = backup.next_epoch  # the boundary, or sooner if early stopping ended phase 1
    _start_phase_two(model, base, config, targets, callbacks, strategy)
    log.info("fine_tune: phase 2 of 2, epochs %d to %d", start + 1, epochs)
    backup.phase = FINE_TUNE
    fit(initial_epoch=start, epochs=epochs)


def _head_epochs_left(backup: RunBackup, boundary: int) -> bool:
    """Whether phase 1 has epochs to train: always in a fresh run; in a resumed one, if its
    last backed-up epoch was in phase 1, before the boundary, and did not stop early."""
    if backup.state is None:
        return True
    state = backup.state
    return backup.backed_up_phase == HEAD and not state["stopped"] and state["epoch"] < boundary


def _start_phase_two(
    model: keras.Model, base: keras.Model, config: TrainConfig, targets: Sequence[Target], callbacks: list, strategy
) -> None:
    """Unfreeze the backbone's top layers, compile with the lower rate, and let the
    callbacks that must go on across a second ``fit`` do so."""
    plan = config.fine_tune
    trainable = unfreeze(base, None if plan.unfreeze == "all" else plan.unfreeze)
    rate = float(config.optimizer.learning_rate) * plan.learning_rate_factor
    with strategy.scope():
        recompile(model, config, targets, rate)
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.CSVLogger):
            callback.append = True  # phase 2's rows follow phase 1's
    log.info(
        "fine_tune: %d of %s's %d layers trainable (BatchNormalization frozen), learning rate %.3g",
        trainable,
        base.name,
        len(base.layers),
        rate,
    )


def _check_unfreeze(base: keras.Model, unfreeze_setting: int | str) -> None:
    """``fine_tune.unfreeze`` must not name more layers than the backbone has: found before
    phase 1 trains, not at the phase change."""
    if unfreeze_setting != "all" and unfreeze_setting > len(base.layers):
        raise UserError(
            f"fine_tune.unfreeze={unfreeze_setting} is more layers than the backbone {base.name} has "
            f"({len(base.layers)}); give at most {len(base.layers)}, or fine_tune.unfreeze=all."
        )
