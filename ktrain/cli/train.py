"""``ktrain-train`` and ``python train.py``: the entry point of a run. Hydra's ``DictConfig``
is read here and nowhere after: a resume swaps in the run's saved config, the config is
validated into the typed, frozen ``TrainConfig``, the hardware is prepared, and the run's
recipe (``ktrain.run.recipe``) trains.

This module imports no TensorFlow: a config that is refused stops here in about a second.
The order of a run is in docs/design.md.
"""

import logging
import math
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from ktrain import distribute, schema
from ktrain.cli.config_tree import print_config_tree
from ktrain.cli.hydra_main import hydra_main
from ktrain.distribute.console import quiet_native_logs
from ktrain.errors import exit_on_user_error
from ktrain.names import BACKUP_DIR, command
from ktrain.resume import interrupts, saved_run
from ktrain.schema import derive
from ktrain.sweeps.search.checks import refuse_without_multirun
from ktrain.tracking.reachable import check_registry, check_tracking_server

if TYPE_CHECKING:
    from ktrain.sweeps.job import SweepJob

log = logging.getLogger(__name__)


@hydra_main(config_name="train")
def main(cfg: DictConfig) -> float:
    """The ``ktrain-train`` command: Hydra composes ``cfg`` from the command line."""
    return run(cfg)


def run(cfg: DictConfig) -> float:
    """Train, evaluate and record one run as ``cfg`` says; return the best monitored value.

    A job of a sweep (``-m``) is a child of the sweep's MLflow run. When it fails it is
    recorded as a FAILED child and scores NaN, so the sweep goes on (a refused single run
    exits 2 instead; in a sweep that exit would end every job).
    """
    if not _in_multirun():
        with exit_on_user_error():
            if HydraConfig.initialized():
                refuse_without_multirun(HydraConfig.get())  # a search (and its pruner) needs -m
            return _run(cfg, job=None)
    from ktrain.sweeps.job import SweepJob  # MLflow: imported once a sweep job runs

    job = SweepJob.current()
    try:
        earlier = _earlier_try(cfg, job)
        if earlier is not None:
            return earlier
        return _run(cfg, job)
    except Exception as error:
        job.record_failure(error, cfg, Path(HydraConfig.get().runtime.output_dir))
        return math.nan


def _earlier_try(cfg: DictConfig, job: "SweepJob") -> float | None:
    """A job that an earlier try of its sweep finished: its best value (it is skipped). A job
    it left KILLED or lost is to resume its run (``job.resume_run_id``): None."""
    from ktrain.sweeps.continued import continue_job, earlier_run

    if job.sweep is None:
        return None
    earlier = earlier_run(job.sweep, job.number, cfg.monitor.metric)
    if earlier is None:
        return None
    if earlier.status == "FINISHED":
        log.info("sweep: job %d (%s) finished in an earlier try of the sweep; skipped", job.number, job.name)
        return earlier.best
    job.resume_run_id = continue_job(job.sweep, job.number, Path(HydraConfig.get().runtime.output_dir), earlier)
    return None


def _run(cfg: DictConfig, job: "SweepJob | None") -> float:
    """The run of this process: ``cfg`` (the run's own saved config, for a resume) is validated
    here, and from then on only the typed config is read."""
    resumed = saved_run.load(cfg, _command_line()) if cfg.get("resume") else None
    if resumed:
        cfg = resumed.cfg  # the run's own saved config
    config = _validated(cfg, resumed, job)
    if distribute.is_chief(config.hardware):
        return _start(config, resumed, job)
    # The other processes of a multi-worker or multi-host run train in step with the chief,
    # writing their model, checkpoints and backups to a temporary dir (TensorFlow's
    # multi-worker guide) and recording nothing: the chief records the run.
    with tempfile.TemporaryDirectory(prefix="ktrain-worker-") as scratch:
        if resumed:  # in the chief's run dir: this process logs beside its train.log
            _log_to(f"train.{distribute.process_name(config.hardware)}.log")
        _work_in(cfg, Path(scratch))
        best = _start(_validated(cfg, resumed, job), resumed, job, chief=False)
    log.info("worker done; the chief records the run")
    return best


def _validated(cfg: DictConfig, resumed: "saved_run.Resumed | None", job: "SweepJob | None") -> schema.TrainConfig:
    """The typed, frozen config of ``cfg``, with the cores a sweep job may use."""
    config = schema.validate(cfg, _command_line(), resumed.choices if resumed else None)
    if job is not None and job.parallel_jobs > 1:
        config = derive.threads(config, job.threads(), job.parallel_jobs)
    return config


def _start(
    config: schema.TrainConfig, resumed: "saved_run.Resumed | None", job: "SweepJob | None", chief: bool = True
) -> float:
    """Check where the run is recorded, prepare the hardware, and train (``ktrain.run.recipe``)."""
    print_config_tree(config.values())
    check_tracking_server(config.mlflow.tracking_uri)
    if config.mlflow.registered_model and (job is None or job.sweep is None):  # a sweep's parent registers its best
        check_registry(config.mlflow.tracking_uri, config.mlflow.registered_model)
    resumed_run_id = (job.resume_run_id if job else None) or (resumed.run_id if resumed else None)
    distribute.prepare_environment(config.hardware, job is not None, config.compile.steps_per_execution)
    with quiet_native_logs():  # the backend's start-up banners go to train.log, not the console
        # Imported only now: it imports Keras, which reads what prepare_environment set.
        from ktrain.run import recipe

        if job is not None:  # jobs of a sweep may share a process: each starts from a clean Keras state
            recipe.clear_keras_session()  # (before setup: it would also forget the seed and precision)
        strategy = distribute.setup(config.hardware, config.seed, config.option("hardware"))
    distribute.refuse_indivisible_batch(config.data.batch_size, strategy)  # before the MLflow run starts
    with interrupts.exit_when_stopped(_continue_command(config, job) if chief else None, config.stop_signal):
        return recipe.train(config, strategy, job, resumed_run_id, record=chief)


def _work_in(cfg: DictConfig, scratch: Path) -> None:
    """A non-chief's output dir is ``scratch`` (set before validation, which resolves the
    paths in it); resumed, it starts from a copy of the run's backup, as the chief does."""
    backup = Path(cfg.paths.output_dir) / BACKUP_DIR
    if cfg.get("resume") and backup.is_dir():
        shutil.copytree(backup, scratch / BACKUP_DIR)
    with open_dict(cfg):
        cfg.paths.output_dir = str(scratch)


def _log_to(name: str) -> None:
    """Hydra's log file handler replaced by one writing to ``name`` in the same dir."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        moved = logging.FileHandler(Path(handler.baseFilename).with_name(name))
        moved.setFormatter(handler.formatter)
        moved.setLevel(handler.level)
        root.removeHandler(handler)
        handler.close()
        root.addHandler(moved)


def _continue_command(config: schema.TrainConfig, job: "SweepJob | None") -> str | None:
    """The command that continues a stopped run, for the chief's log: a sweep job's is its sweep's."""
    if job is not None and job.sweep is not None:
        return f"{command('train')} -m resume={job.sweep.sweep_dir}"
    if config.hardware.strategy == "multi_worker":
        return None
    continuing = f"{command('train')} resume={config.paths.output_dir}"
    if config.hardware.strategy == "multi_host":
        return f"{continuing} on every process, each with its hardware.process_id"
    return continuing


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _command_line() -> list[str]:
    """The overrides given on the command line (a sweep job's own, sweep values resolved)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
