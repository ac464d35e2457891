"""ktrain's Optuna sweeper, on Optuna's ask/tell API: ask trials, launch them as Hydra jobs,
tell Optuna how each ended (COMPLETE with its best monitored value, PRUNED, or FAILED).

The plugin class (``hydra_plugins/ktrain_optuna_sweeper``) hands the sweep to ``OptunaSearch``.
Each job is told its trial by three overrides (``optuna.trial``, ``optuna.study``,
``optuna.storage``; the ``optuna`` section of train.yaml), so that it reports its epochs to the
trial through the storage wherever the launcher runs it (``ktrain.search.trial``).
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

from ktrain.names import PRUNED_AT_ATTR
from ktrain.search import results, space, storage, study
from ktrain.search.checks import storage_of

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
        n_trials = settings["n_trials"]
        if sampler_cfg["_target_"].endswith("GridSampler"):
            grid = space.grid(search_space)
            sampler = instantiate(sampler_cfg, search_space=grid)
            n_trials = min(n_trials, math.prod(len(values) for values in grid.values()))
        else:
            sampler = instantiate(sampler_cfg)
        name = settings.get("study_name") or storage.study_name(config.mlflow.experiment_name, arguments)
        where = storage_of(config)
        pruner = _plain(settings.get("pruner"))
        the_study = study.open_study(name, where, settings["direction"], sampler, pruner)
        log.info(
            "optuna: study %r in %s; %d new trials, %s, %s, sampler %s, pruner %s",
            name,
            where,
            n_trials,
            settings["direction"],
            config.monitor.metric,
            type(sampler).__name__,
            pruner["_target_"].rpartition(".")[2] if pruner else None,
        )
        job_number = 0
        while job_number < n_trials:
            batch = [the_study.ask(search_space) for _ in range(min(settings["n_jobs"], n_trials - job_number))]
            jobs = [
                space.trial_overrides(trial.params, fixed) + _trial_keys(trial.number, name, where) for trial in batch
            ]
            returns = self.launcher.launch(jobs, initial_job_idx=job_number)
            job_number += len(returns)
            _tell(the_study, batch, returns)
        results.write(the_study, Path(config.hydra.sweep.dir), where, config.monitor.metric)


def _tell(the_study: optuna.Study, batch: list[optuna.Trial], returns: list) -> None:
    """Tell Optuna how each job ended: pruned (its job said so through the storage), a finite
    best value, or failed (a failed job scores NaN)."""
    attrs = {t.number: t.user_attrs for t in the_study.get_trials(deepcopy=False)}
    for trial, job in zip(batch, returns):
        value = job.return_value if job.status == JobStatus.COMPLETED else math.nan
        if PRUNED_AT_ATTR in attrs.get(trial.number, {}):
            study.tell(the_study, trial, state=TrialState.PRUNED)
        elif isinstance(value, int | float) and math.isfinite(value):
            study.tell(the_study, trial, values=float(value))
        else:
            study.tell(the_study, trial, state=TrialState.FAIL)


def _trial_keys(number: int, name: str, where: str) -> list[str]:
    """The overrides that tell a job its trial (quoted: a study name holds spaces and ``=``)."""
    return [f"optuna.trial={number}", f"optuna.study={_quoted(name)}", f"optuna.storage={_quoted(where)}"]


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("${", "\\${")
    return f"'{escaped}'"


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
