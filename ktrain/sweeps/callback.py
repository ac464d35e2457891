"""Sweeps (``train.py -m``) in MLflow: one parent run per sweep, every job a child run of it.

``SweepCallback`` is a Hydra callback (``conf/hydra/default.yaml``), called where Hydra
runs the sweep: before the first job it starts the parent run, and has a stop of the sweep's
process end the running jobs first (``stops.py``); after the last it writes the summary
(``summary.py``) and ends the parent, FAILED only if every job failed.
Jobs may run in this process, in joblib worker processes or on a cluster, where neither
this process's memory, its environment (a reused joblib worker started before it) nor its
disk (a Ray cluster) need reach. The callback itself does: every Hydra launcher hands the
job its callbacks, pickled along with it, and Hydra's ``run_job`` calls ``on_job_start``
in the job's own process, which passes the parent run on to the task (``SweepJob``).

``SweepJob`` (``job.py``) is a job's side.

MLflow is imported inside the functions: Hydra builds this callback for every run, even
one whose config is refused in a second.
"""

import atexit
import logging
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ktrain.errors import exit_on_user_error
from ktrain.names import (
    BEST_TAG_PREFIX,
    ERROR_TAG,
    KILLED_TAG,
    LOCAL_UI,
    MULTIRUN_CONFIG,
    OVERRIDES_TAG,
    PARENT_RUN_TAG,
    SEARCH_RESULTS,
    SWEEP_TAG_PREFIX,
)
from ktrain.sweeps import continued
from ktrain.sweeps.job import Sweep, set_current_sweep
from ktrain.sweeps.refused_jobs import check_jobs
from ktrain.sweeps.search.checks import check_search
from ktrain.sweeps.stops import restore_signals, stop_jobs_when_stopped, stopped_by
from ktrain.tracking.reachable import check_registry

log = logging.getLogger(__name__)
# Hydra's own rule: a multirun with a failed job exits non-zero once every job has run.
EXIT_JOB_FAILED = 1


class SweepCallback(Callback):
    """Starts a sweep's parent MLflow run, and ends it with a summary of the jobs."""

    def __init__(self) -> None:
        self.sweep: Sweep | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # so that ${hydra:...} in paths resolves
        # A refused Optuna search leaves no parent run. Hydra turns a callback's exception into a
        # warning and goes on, so the refusal exits here (SystemExit passes through).
        register = config.mlflow.get("register")
        with exit_on_user_error():
            check_search(config)
            check_jobs(config)
            if register:
                check_registry(config.mlflow.tracking_uri, register)
        import mlflow

        from ktrain.tracking.run import ensure_experiment

        sweep_dir = Path(config.hydra.sweep.dir).absolute()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        tracking_uri = config.mlflow.tracking_uri
        mlflow.set_tracking_uri(tracking_uri)
        with exit_on_user_error():  # a deleted experiment
            experiment_id = ensure_experiment(tracking_uri, config.mlflow.experiment_name)
        command_line = list(config.hydra.overrides.task)
        tags = {
            OVERRIDES_TAG: " ".join(command_line),
            f"{SWEEP_TAG_PREFIX}dir": str(sweep_dir),
            f"{SWEEP_TAG_PREFIX}sweeper": config.hydra.sweeper._target_.rpartition(".")[2],
            f"{SWEEP_TAG_PREFIX}launcher": config.hydra.launcher._target_.rpartition(".")[2],
        }
        name = config.mlflow.run_name or " ".join(["sweep", *command_line])
        client = mlflow.MlflowClient(tracking_uri)
        run_id = continued.reopened_parent(sweep_dir, client)  # a continued sweep's (-m resume=)
        if run_id is None:
            run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
            client.log_param(run_id, "monitor.metric", config.monitor.metric)
            client.log_param(run_id, "monitor.mode", config.monitor.mode)
            continued.record_parent(sweep_dir, run_id)
            _log_sweep_config(client, run_id, config, sweep_dir)
        self.sweep = Sweep(
            parent_run_id=run_id,
            tracking_uri=tracking_uri,
            experiment_id=experiment_id,
            sweep_dir=str(sweep_dir),
            fixed_keys=fixed_keys(command_line),
            monitor_metric=config.monitor.metric,
            monitor_mode=config.monitor.mode,
            register=register,
            register_alias=config.mlflow.get("register_alias", "champion"),
        )
        atexit.register(self._end_early)
        stop_jobs_when_stopped(sweep_dir, config.get("stop_signal", "SIGTERM"))
        log.info("mlflow: sweep run %s in experiment %r at %s", run_id, config.mlflow.experiment_name, tracking_uri)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """In the job's process: hand the sweep to the task."""
        set_current_sweep(self.sweep)

    def on_job_end(self, config: DictConfig, **kwargs: Any) -> None:
        set_current_sweep(None)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        restore_signals()
        if self.sweep is None:
            return
        failed = _end_sweep(self.sweep, ended_early=False)
        atexit.unregister(self._end_early)  # only now: a summary that failed is tried again at exit
        if failed:
            sys.exit(EXIT_JOB_FAILED)

    def _end_early(self) -> None:
        """At exit of a sweep that never reached its end (Ctrl-C, a job config that did not
        compose, a sweeper that gave up): summarise what ran and end the parent."""
        if self.sweep is not None:
            _end_sweep(self.sweep, ended_early=True)


def _log_sweep_config(client, run_id: str, config: DictConfig, sweep_dir: Path) -> None:
    """Hydra's record of the sweep (``multirun.yaml``: its config and overrides) in the sweep
    dir, for every sweeper (Hydra's basic one writes it again), and on the parent run at once:
    ``-m resume=<parent run id>`` continues the sweep from it on a machine that lacks the dir."""
    path = sweep_dir / MULTIRUN_CONFIG
    OmegaConf.save(config, path)
    client.log_artifact(run_id, str(path))


def _end_sweep(sweep: Sweep, ended_early: bool) -> int:
    """Write the summary, end the parent run; return the number of failed jobs."""
    from ktrain.sweeps import summary  # MLflow (see the module's docstring)
    from ktrain.sweeps.search.parent_run import log_search_results
    from ktrain.tracking.run import ui_hint

    client = sweep.client()
    parent = sweep.parent_run_id
    jobs = summary.collect_jobs(client, sweep.experiment_id, parent, sweep.monitor_metric, sweep.monitor_mode)
    metric = f"best_{sweep.monitor_metric}"
    paths = summary.write_summary(jobs, metric, Path(sweep.sweep_dir))
    for path in [*paths, Path(sweep.sweep_dir, SEARCH_RESULTS)]:
        if path.is_file():
            client.log_artifact(parent, str(path))
    log_search_results(client, parent, Path(sweep.sweep_dir))  # an Optuna search's best trial, counts, plots

    finished = [job for job in jobs if job.status == "FINISHED"]
    failed = [job for job in jobs if job.status != "FINISHED"]
    client.log_metric(parent, "jobs_finished", len(finished))
    client.log_metric(parent, "jobs_failed", len(failed))
    best = summary.best_job(jobs, sweep.monitor_mode)
    if best is not None:
        client.log_metric(parent, metric, best.value)
        client.set_tag(parent, f"{BEST_TAG_PREFIX}run_id", best.run_id)
        client.set_tag(parent, f"{BEST_TAG_PREFIX}job", str(best.number))
        client.set_tag(parent, f"{BEST_TAG_PREFIX}overrides", best.name)
        log.info("sweep: best job %s (%s): %s=%.4g, run %s", best.number, best.name, metric, best.value, best.run_id)
        if sweep.register and not ended_early:
            _register_best(sweep, client, best)
    for job in failed:
        log.error("sweep: job %s (%s) ended %s: %s", job.number, job.name, job.status, job.error)

    status = _end_status(client, parent, jobs, ended_early)
    client.set_terminated(parent, status)
    log.info(
        "sweep: %d jobs, %d finished, %d failed; summary in %s",
        len(jobs),
        len(finished),
        len(failed),
        " ".join(str(p) for p in paths),
    )
    log.info("sweep: MLflow run %s ended %s; %s", parent, status, ui_hint(sweep.tracking_uri))
    base_url = sweep.tracking_uri if sweep.tracking_uri.startswith(("http://", "https://")) else LOCAL_UI
    log.info(
        "sweep: compare its jobs at %s",
        compare_url(base_url, sweep.experiment_id, parent, sweep.monitor_metric, sweep.monitor_mode),
    )
    return len(failed)


def _end_status(client, parent: str, jobs: list, ended_early: bool) -> str:
    """The parent run's end, with the tag that says why it is not FINISHED."""
    finished = [job for job in jobs if job.status == "FINISHED"]
    if not ended_early:
        if not finished:
            client.set_tag(parent, ERROR_TAG, f"every job failed ({len(jobs)})")
        return "FINISHED" if finished else "FAILED"
    signal_name = stopped_by()
    if signal_name:
        client.set_tag(parent, KILLED_TAG, signal_name)
    else:
        client.set_tag(parent, ERROR_TAG, "the sweep stopped before its last job; its console output says why")
    return "KILLED" if signal_name or any(job.status == "KILLED" for job in jobs) else "FAILED"


def _register_best(sweep: Sweep, client, best) -> None:
    """The best job's final model, as a new version of ``mlflow.register``'s model."""
    from ktrain.tracking.registry import final_model_id, register

    model_id = final_model_id(client, sweep.experiment_id, best.run_id)
    if model_id is None:
        log.error("sweep: the best job's run %s logged no model, so none was registered", best.run_id)
        return
    version = register(
        client, sweep.register, model_id, best.run_id, sweep.register_alias, sweep.monitor_metric, best.value
    )
    client.set_tag(sweep.parent_run_id, f"{BEST_TAG_PREFIX}model_version", f"{sweep.register}/{version}")


def compare_url(base_url: str, experiment_id: str, parent_run_id: str, monitor: str, mode: str) -> str:
    """The MLflow UI page that compares a sweep's jobs: its child runs (a filter, which also
    lists them flat rather than folded under the parent), best first, in the chart view."""
    query = urlencode(
        {
            "searchFilter": f"tags.{PARENT_RUN_TAG} = '{parent_run_id}'",
            "orderByKey": f"metrics.`best_{monitor}`",
            "orderByAsc": str(mode == "min").lower(),
            "compareRunsMode": "CHART",
        }
    )
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def fixed_keys(overrides: list[str]) -> list[str]:
    """The keys of the overrides that are not sweeps (``fit.epochs=2``, not ``schedule=a,b``),
    as Hydra writes them in each job's overrides (Hydra's grammar tells a sweep)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    return [o.get_key_element() for o in parsed if not o.is_sweep_override()]
