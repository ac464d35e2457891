"""A job's side of an Optuna search: the pruning callback for its trial, and its run's tag
when it was pruned. Outside a search (``optuna.trial`` null) both do nothing."""

import logging

from ktrain.names import PRUNED_AT_TAG
from ktrain.schema.run import OptunaTrial

log = logging.getLogger(__name__)


def pruning_callbacks(settings: OptunaTrial, monitor: str) -> list:
    """``[OptunaPruning]`` for the trial ``settings`` names, or ``[]``: outside a search, or for
    a trial its sweeper has already told (a resumed job)."""
    if settings.trial is None:
        return []
    from optuna.trial import TrialState  # Optuna: imported only in a search's jobs

    from ktrain.callbacks.optuna_pruning import OptunaPruning
    from ktrain.sweeps.search.study import open_trial

    trial = open_trial(settings.storage, settings.study, settings.trial)
    state = trial.study._storage.get_trial(trial._trial_id).state
    if state != TrialState.RUNNING:
        log.info("optuna: trial %d is %s already: its epochs are not reported", settings.trial, state.name)
        return []
    log.info("optuna: trial %d of study %r reports %s every epoch", settings.trial, settings.study, monitor)
    return [OptunaPruning(trial, monitor)]


def tag_if_pruned(tracked, callbacks: list) -> None:
    """Tag the run with the epochs it trained, if its trial was pruned."""
    for callback in callbacks:
        if callback.pruned_at is not None:
            log.info("optuna: trial %d pruned after epoch %d", callback.trial.number, callback.pruned_at)
            tracked.set_tags({PRUNED_AT_TAG: str(callback.pruned_at)})
