"""``ktrain-train`` and ``python train.py``: validate the config, prepare the hardware, then
train (``training``).

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

from ktrain import cli, hardware, interrupts, resume, schema
from ktrain.config_tree import print_config_tree
from ktrain.errors import exit_on_user_error
from ktrain.names import BACKUP_DIR
from ktrain.search.checks import refuse_without_multirun
from ktrain.tracking.reachable import check_tracking_server

if TYPE_CHECKING:
    from ktrain.tracking.sweep import SweepJob

log = logging.getLogger(__name__)


@cli.main(config_name="train")
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
    from ktrain.tracking.sweep import SweepJob  # MLflow: imported once a sweep job runs

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
    from ktrain.tracking.sweep_jobs import continue_job, earlier_run

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
    resumed = resume.load(cfg, _command_line()) if cfg.get("resume") else None
    if resumed:
        cfg = resumed.cfg  # the run's own saved config
    if hardware.is_chief(cfg.hardware):
        return _train(cfg, resumed, job)
    # The other processes of a multi-worker or multi-host run train in step with the chief,
    # writing their model, checkpoints and backups to a temporary dir (TensorFlow's
    # multi-worker guide) and recording nothing: the chief records the run.
    with tempfile.TemporaryDirectory(prefix="ktrain-worker-") as scratch:
        if resumed:  # in the chief's run dir: this process logs beside its train.log
            _log_to(f"train.{hardware.process_name(cfg.hardware)}.log")
        _work_in(cfg, Path(scratch))
        best = _train(cfg, resumed, job, chief=False)
    log.info("worker done; the chief records the run")
    return best


def _train(cfg: DictConfig, resumed: "resume.Resumed | None", job: "SweepJob | None", chief: bool = True) -> float:
    config, resumed_run_id = _configure(cfg, resumed, job)
    hardware.prepare_environment(config.hardware)
    # Imported only now: it imports Keras, which reads what prepare_environment set.
    from ktrain import training

    if job is not None:  # jobs of a sweep may share a process: each starts from a clean Keras state
        training.clear_keras_session()  # (before setup: it would also forget the seed and precision)
    strategy = hardware.setup(config.hardware, config.seed, config.option("hardware"))
    with interrupts.exit_when_stopped(_continue_command(config) if chief else None, config.stop_signal):
        return training.train(config, strategy, job, resumed_run_id, record=chief)


def _configure(
    cfg: DictConfig, resumed: "resume.Resumed | None", job: "SweepJob | None"
) -> tuple[schema.TrainConfig, str | None]:
    """The validated config, and the MLflow run id a resume reopens."""
    config = schema.validate(cfg, _command_line(), resumed.choices if resumed else None)
    if job is not None and job.parallel_jobs > 1:
        _share_cores(config.hardware, job)
    print_config_tree(config.values())
    check_tracking_server(config.mlflow.tracking_uri)
    if job is not None and job.resume_run_id:  # a job of a continued sweep
        return config, job.resume_run_id
    return config, resumed.run_id if resumed else None


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


def _continue_command(config: schema.TrainConfig) -> str | None:
    """The command that continues a stopped run, for the chief's log."""
    if config.hardware.strategy == "multi_worker":
        return None
    command = f"python train.py resume={config.paths.output_dir}"
    if config.hardware.strategy == "multi_host":
        return f"{command} on every process, each with its hardware.process_id"
    return command


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _command_line() -> list[str]:
    """The overrides given on the command line (a sweep job's own, sweep values resolved)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _share_cores(hardware_cfg: schema.Hardware, job: "SweepJob") -> None:
    """Jobs training at once on one machine split its cores; thread counts set in the config win."""
    threads = job.threads()
    if hardware_cfg.intra_op_threads is None:
        hardware_cfg.intra_op_threads = threads
    if hardware_cfg.inter_op_threads is None:
        hardware_cfg.inter_op_threads = threads
    log.info(
        "hardware: %d jobs at once on this machine; this one uses %s intra-op and %s inter-op threads",
        job.parallel_jobs,
        hardware_cfg.intra_op_threads,
        hardware_cfg.inter_op_threads,
    )
