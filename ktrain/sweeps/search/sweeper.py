"""ktrain's Optuna sweeper, on Optuna's ask/tell API: ask trials, launch them as Hydra jobs,
tell Optuna how each ended (COMPLETE with its best monitored value, PRUNED, or FAILED).

The plugin class (``hydra_plugins/ktrain_optuna_sweeper``) hands the sweep to ``OptunaSearch``.
Each job is told its trial by three overrides (``optuna.trial``, ``optuna.study``,
``optuna.storage``; the ``optuna`` section of train.yaml), so that it reports its epochs to the
trial through the storage wherever the launcher runs it (``ktrain.sweeps.search.trial``).
"""

import logging
import math
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from ktrain.names import PRUNED_AT_ATTR, TRIAL_JOB_ATTR, TRIAL_SWEEP_DIR_ATTR
from ktrain.sweeps.continued import continues
from ktrain.sweeps.search import results, space, storage, study
from ktrain.sweeps.search.checks import storage_of

log = logging.getLogger(__name__)


class OptunaSearch:
    """A search: ``settings`` are the keys of ``hydra.sweeper`` (``KtrainOptunaSweeperConf``)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.config: DictConfig | None = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        """Ask ``n_trials`` new trials, ``n_jobs`` at a time, and write the results."""
        settings, config = self.settings, self.config
        search_space, fixed = space.search_space(_plain(settings.get("params")), arguments)
        sampler_cfg = _plain(settings.get("sampler")) or {"_target_": "optuna.samplers.TPESampler"}
        name = settings.get("study_name") or storage.study_name(config.mlflow.experiment_name, arguments)
        where = storage_of(config)
        if sampler_cfg.get("seed") is not None:  # a continued study's sampler starts anew: from the
            sampler_cfg["seed"] += study.trial_count(name, where)  # same seed it would ask its first trials again
        n_trials = settings["n_trials"]
        if sampler_cfg["_target_"].endswith("GridSampler"):
            grid = space.grid(search_space)
            sampler = instantiate(sampler_cfg, search_space=grid)
            n_trials = min(n_trials, math.prod(len(values) for values in grid.values()))
        else:
            sampler = instantiate(sampler_cfg)
        pruner = _plain(settings.get("pruner"))
        sweep_dir = str(Path(config.hydra.sweep.dir).absolute())
        continued = continues(Path(sweep_dir))  # -m resume=<this sweep>
        the_study = study.open_study(
            name, where, settings["direction"], sampler, pruner, sweep_dir if continued else None
        )
        earlier = study.sweep_trials(the_study, sweep_dir) if continued else {}
        log.info(
            "optuna: study %r in %s; %d new trials, %s, %s, sampler %s, pruner %s",
            name,
            where,
            max(n_trials - len(earlier), 0),
            settings["direction"],
            config.monitor.metric,
            type(sampler).__name__,
            pruner["_target_"].rpartition(".")[2] if pruner else None,
        )
        # A continued sweep first launches again the jobs of its trials left RUNNING: each resumes
        # its child run from its backup, or is skipped if it had finished (see ktrain.cli.train).
        interrupted = sorted(number for number, trial in earlier.items() if trial.state == TrialState.RUNNING)
        for first, batch in _consecutive(interrupted):
            log.info("optuna: jobs %s were interrupted; continuing them", ", ".join(map(str, batch)))
            self._launch(the_study, [earlier[number] for number in batch], first, (name, where, fixed))
        job_number, asked = max(earlier, default=-1) + 1, len(earlier)
        while asked < n_trials:
            batch = [the_study.ask(search_space) for _ in range(min(settings["n_jobs"], n_trials - asked))]
            for offset, trial in enumerate(batch):
                trial.set_user_attr(TRIAL_SWEEP_DIR_ATTR, sweep_dir)
                trial.set_user_attr(TRIAL_JOB_ATTR, job_number + offset)
            self._launch(the_study, batch, job_number, (name, where, fixed))
            job_number, asked = job_number + len(batch), asked + len(batch)
        results.write(the_study, Path(config.hydra.sweep.dir), where, config.monitor.metric)

    def _launch(self, the_study: optuna.Study, batch: list, job_number: int, study_keys: tuple) -> None:
        """Launch ``batch``'s trials as jobs ``job_number``, ... and tell Optuna how they ended."""
        name, where, fixed = study_keys
        jobs = [space.trial_overrides(trial.params, fixed) + _trial_keys(trial.number, name, where) for trial in batch]
        _tell(the_study, batch, self.launcher.launch(jobs, initial_job_idx=job_number))


def _consecutive(numbers: list[int]) -> list[tuple[int, list[int]]]:
    """Sorted ``numbers`` in runs of consecutive ones, each with its first: [(3, [3, 4]), (7, [7])]."""
    runs: list[tuple[int, list[int]]] = []
    for number in numbers:
        if runs and runs[-1][1][-1] == number - 1:
            runs[-1][1].append(number)
        else:
            runs.append((number, [number]))
    return runs


def _tell(the_study: optuna.Study, batch: list[optuna.Trial], returns: list) -> None:
    """Tell Optuna how each job ended: pruned (its job said so through the storage), a finite
    best value, or failed (a failed job scores NaN)."""
    attrs = {t.number: t.user_attrs for t in the_study.get_trials(deepcopy=False)}
    for trial, job in zip(batch, returns):
        value = job.return_value if job.status == JobStatus.COMPLETED else math.nan
        if PRUNED_AT_ATTR in attrs.get(trial.number, {}):  # (by number: a continued sweep's are frozen)
            study.tell(the_study, trial.number, state=TrialState.PRUNED)
        elif isinstance(value, int | float) and math.isfinite(value):
            study.tell(the_study, trial.number, values=float(value))
        else:
            study.tell(the_study, trial.number, state=TrialState.FAIL)


def _trial_keys(number: int, name: str, where: str) -> list[str]:
    """The overrides that tell a job its trial (quoted: a study name holds spaces and ``=``)."""
    return [f"optuna.trial={number}", f"optuna.study={_quoted(name)}", f"optuna.storage={_quoted(where)}"]


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("${", "\\${")
    return f"'{escaped}'"


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
