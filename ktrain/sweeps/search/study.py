"""A study in its storage: opened (or continued), its interrupted trials asked again, its
pruner kept where every job finds it; and a job's own trial, opened from the storage."""

import logging
from pathlib import Path
from typing import Any

import optuna
from hydra.utils import instantiate
from optuna.trial import TrialState

from ktrain.names import PRUNER_ATTR, TRIAL_JOB_ATTR, TRIAL_SWEEP_DIR_ATTR
from ktrain.sweeps.search.storage import is_url

log = logging.getLogger(__name__)


def open_storage(storage: str) -> optuna.storages.BaseStorage:
    """An RDB URL as Optuna's RDB storage; any other string as a journal file (folder made)."""
    if is_url(storage):
        return optuna.storages.RDBStorage(storage)
    from optuna.storages.journal import JournalFileBackend

    path = Path(storage).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def trial_count(name: str, storage: str) -> int:
    """How many trials study ``name`` already holds (0 where it does not exist yet)."""
    storage_ = open_storage(storage)
    try:
        return storage_.get_n_trials(storage_.get_study_id_from_name(name))
    except KeyError:  # no such study
        return 0


def open_study(
    name: str, storage: str, direction: str, sampler: Any, pruner: dict | None, continued_sweep: str | None = None
) -> optuna.Study:
    """The study ``name`` in ``storage``, created or continued. Trials left RUNNING by a sweep
    that died are marked FAILED and their parameters queued, so that they are asked again;
    except those of ``continued_sweep`` (the sweep dir of ``-m resume=``), which its jobs resume."""
    # Optuna announces a new or loaded study through a handler of its own ("[I <time>] A new
    # study created in Journal with name: ..."); the sweep's log says which study it runs.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(storage),
        sampler=sampler,
        pruner=instantiate(pruner) if pruner else optuna.pruners.NopPruner(),
        direction=direction,
        load_if_exists=True,
    )
    study.set_user_attr(PRUNER_ATTR, pruner)
    earlier = study.get_trials(deepcopy=False)
    for trial in earlier:
        ours = continued_sweep is not None and trial.user_attrs.get(TRIAL_SWEEP_DIR_ATTR) == continued_sweep
        if trial.state == TrialState.RUNNING and not ours:
            tell(study, trial.number, state=TrialState.FAIL)
            study.enqueue_trial(trial.params, skip_if_exists=False)
            log.warning("optuna: trial %d was running when its sweep stopped: FAILED, and asked again", trial.number)
    if earlier:
        done = sum(trial.state.is_finished() for trial in earlier)
        log.info("optuna: continuing study %r: %d earlier trials kept", name, done)
    else:
        log.info("optuna: study %r created in %s", name, storage)
    return study


def sweep_trials(study: optuna.Study, sweep_dir: str) -> dict[int, optuna.trial.FrozenTrial]:
    """The trials that the sweep in ``sweep_dir`` asked, by job number."""
    return {
        trial.user_attrs[TRIAL_JOB_ATTR]: trial
        for trial in study.get_trials(deepcopy=False)
        if trial.user_attrs.get(TRIAL_SWEEP_DIR_ATTR) == sweep_dir
    }


def open_trial(storage: str, study_name: str, number: int) -> optuna.Trial:
    """Trial ``number`` of a study, as a job reaches it: through the storage, with the pruner
    the sweeper stored."""
    storage_ = open_storage(storage)
    study_id = storage_.get_study_id_from_name(study_name)
    pruner = storage_.get_study_user_attrs(study_id).get(PRUNER_ATTR)
    study = optuna.load_study(
        study_name=study_name, storage=storage_, pruner=instantiate(pruner) if pruner else optuna.pruners.NopPruner()
    )
    return optuna.Trial(study, storage_.get_trial_id_from_study_id_trial_number(study_id, number))


def tell(the_study: optuna.Study, trial: optuna.Trial | int, **outcome: Any) -> None:
    """``study.tell``; the grid sampler's ``study.stop()`` once its grid is done is refused
    outside ``study.optimize`` (a RuntimeError) after the trial is stored, and the sweeper has
    already capped ``n_trials`` at the grid's size, so it is let go."""
    try:
        the_study.tell(trial, **outcome)
    except RuntimeError as error:
        if "Study.stop" not in str(error):
            raise
