"""A sweep job's side, in the job's own process: its parent run, its run name and tags, the
cores it may use, and recording its failure as a FAILED child so that the sweep goes on.

``SweepCallback.on_job_start`` (``ktrain.sweeps.callback``) hands the job its sweep here,
in whatever process or machine the launcher runs it.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from ktrain import overrides as command_line
from ktrain.errors import UserError
from ktrain.names import ERROR_TAG, JOB_TAG, OVERRIDES_TAG, PARENT_RUN_TAG
from ktrain.schema.run import group_options
from ktrain.tracking.params import flatten

log = logging.getLogger(__name__)


@dataclass
class Sweep:
    """What a sweep's jobs and its summary need to know of the parent run."""

    parent_run_id: str
    tracking_uri: str
    experiment_id: str
    sweep_dir: str
    fixed_keys: list[str]  # keys the command line sets alike for every job
    monitor_metric: str
    monitor_mode: str
    register: str | None = None  # mlflow.register: the best job's final model is registered at the end
    register_alias: str = "champion"

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(self.tracking_uri)


_current_sweep: Sweep | None = None  # the sweep of the job this process runs now


def set_current_sweep(sweep: Sweep | None) -> None:
    """The job this process runs now belongs to ``sweep`` (None: to no sweep)."""
    global _current_sweep
    _current_sweep = sweep


@dataclass
class SweepJob:
    """One job of a sweep, as its own process sees it."""

    sweep: Sweep | None  # None when the sweep callback is off: the job is a run of its own
    number: int
    overrides: list[str]
    parallel_jobs: int
    resume_run_id: str | None = None  # the child run an earlier try of the sweep left to resume

    @classmethod
    def current(cls) -> "SweepJob":
        """The job Hydra is running now (call only in a multirun)."""
        hydra = HydraConfig.get()
        return cls(
            sweep=_current_sweep,
            number=hydra.job.num,
            overrides=list(hydra.overrides.task),
            parallel_jobs=_parallel_jobs(hydra.launcher),
        )

    @property
    def parent_run_id(self) -> str | None:
        return self.sweep.parent_run_id if self.sweep else None

    @property
    def name(self) -> str:
        """The job's own overrides: what sets it apart from the other jobs of the sweep."""
        fixed = set(self.sweep.fixed_keys) if self.sweep else set()
        own = [o for o in self.overrides if command_line.key_of(o) not in fixed and not o.startswith("optuna.")]
        return " ".join(own or self.overrides)

    @property
    def tags(self) -> dict[str, str]:
        return {JOB_TAG: str(self.number)}

    def threads(self) -> int:
        """This job's fair share of the machine's cores, with ``parallel_jobs`` at once."""
        from joblib import cpu_count  # here: every run loads this module (the sweep callback), 0.1 s of import

        return max(1, cpu_count() // self.parallel_jobs)

    def record_failure(self, error: Exception, cfg: DictConfig, run_dir: Path) -> None:
        """Log the failure and, unless the job's own run started (and so ended FAILED), make
        it a FAILED child run with the reason, the job's overrides, config and log."""
        from mlflow.entities import Param

        if isinstance(error, UserError):
            reason = str(error)
            log.debug("refused input", exc_info=error)
            log.error("job %d (%s) refused: %s", self.number, self.name, reason)
        else:
            reason = f"{type(error).__name__}: {error}"
            log.error("job %d (%s) failed", self.number, self.name, exc_info=error)
        if self.sweep is None or self._child_run_exists():
            return
        client = self.sweep.client()
        tags = {
            PARENT_RUN_TAG: self.sweep.parent_run_id,
            OVERRIDES_TAG: " ".join(self.overrides),
            ERROR_TAG: reason[:5000],
            **self.tags,
        }
        run = client.create_run(self.sweep.experiment_id, run_name=self.name, tags=tags)
        try:
            params = flatten(OmegaConf.to_container(cfg, resolve=True))
        except Exception:  # a config that does not even resolve: its overrides tell
            params = {}
        params.update(group_options(HydraConfig.get().runtime.choices))  # as a run logs them
        client.log_batch(run.info.run_id, params=[Param(k, v[:6000]) for k, v in params.items()])
        for log_file in run_dir.glob("*.log"):
            client.log_artifact(run.info.run_id, str(log_file))
        client.set_terminated(run.info.run_id, "FAILED")

    def _child_run_exists(self) -> bool:
        query = f"tags.{PARENT_RUN_TAG} = '{self.sweep.parent_run_id}' and tags.`{JOB_TAG}` = '{self.number}'"
        return bool(self.sweep.client().search_runs([self.sweep.experiment_id], query, max_results=1))


def _parallel_jobs(launcher: DictConfig) -> int:
    """How many jobs the launcher runs at once on this machine: joblib's ``n_jobs`` (-1: one
    per core); 1 for launchers that run one job at a time here or each job on its own node."""
    n_jobs = launcher.get("n_jobs")
    if not isinstance(n_jobs, int) or n_jobs == 1:
        return 1
    from joblib import effective_n_jobs  # here: see SweepJob.threads

    return max(1, effective_n_jobs(n_jobs))
