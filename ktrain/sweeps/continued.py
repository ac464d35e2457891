"""``python train.py -m resume=<sweep dir or parent run id>``: continue a sweep.

Before Hydra starts, ``hydra_args`` replays the sweep's own overrides, which Hydra saved in
the sweep dir's ``multirun.yaml``, into the same sweep dir, and marks the sweep as resumed
(``RESUMED_SWEEP_ENV``, which the sweep callback reads to reopen the parent MLflow run).
Inside the sweep, the sweep callback reopens the parent run (``reopened_parent``), and each job
looks up its own child run of the earlier try (``earlier_run``): FINISHED is skipped, KILLED
or lost resumes from its backup (``continue_job``), never started runs.

This module imports MLflow only once a parent run id is given or a sweep runs.
"""

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from ktrain import overrides as command_line
from ktrain.errors import UserError
from ktrain.names import ERROR_TAG, JOB_TAG, MULTIRUN_CONFIG, PARENT_RUN_TAG, SWEEP_RECORD, SWEEP_TAG_PREFIX, program
from ktrain.resume.saved_run import is_run_id

log = logging.getLogger(__name__)

RESUMED_SWEEP_ENV = "KTRAIN_RESUMED_SWEEP"  # the sweep dir being continued


def record_parent(sweep_dir: Path, run_id: str) -> None:
    """Write the sweep dir's record of its parent run, which a continued sweep reopens."""
    (sweep_dir / SWEEP_RECORD).write_text(json.dumps({"run_id": run_id}))


def recorded_parent(sweep_dir: Path) -> str:
    """The parent run that ``record_parent`` wrote into ``sweep_dir``."""
    try:
        return json.loads((sweep_dir / SWEEP_RECORD).read_text())["run_id"]
    except (OSError, ValueError, KeyError):
        raise UserError(f"-m resume={sweep_dir}: the sweep dir has no {SWEEP_RECORD} naming its parent run.") from None


def continues(sweep_dir: Path) -> bool:
    """Whether this process continues the sweep in ``sweep_dir`` (``-m resume=``)."""
    return os.environ.get(RESUMED_SWEEP_ENV) == str(sweep_dir)


def hydra_args(value: str, args: list[str]) -> list[str]:
    """The command line that continues the sweep ``resume=value`` names; ``args`` may hold
    only ``-m`` and ``resume``."""
    others = [a for a in command_line.without(args, "resume") if a not in command_line.MULTIRUN_FLAGS]
    if others:
        raise UserError(
            f"-m resume={value} continues the sweep with its own saved overrides, so other "
            f"arguments are refused (got: {' '.join(others)})."
        )
    sweep_dir = _sweep_dir(value)
    saved = OmegaConf.load(sweep_dir / MULTIRUN_CONFIG).hydra.overrides
    replayed = [str(o) for o in saved.hydra if not str(o).startswith(("hydra.sweep.dir=", "hydra.mode="))]
    os.environ[RESUMED_SWEEP_ENV] = str(sweep_dir)
    return ["-m", *replayed, *[str(o) for o in saved.task], f"hydra.sweep.dir='{sweep_dir}'"]


def _sweep_dir(value: str) -> Path:
    path = Path(value).expanduser().resolve()
    if is_run_id(value):
        path = _parent_run_sweep_dir(value)
    if not (path / MULTIRUN_CONFIG).is_file():
        problem = "does not exist" if not path.exists() else f"has no {MULTIRUN_CONFIG}"
        raise UserError(
            f"-m resume={value} continues a sweep, but {path} {problem}: it is not a sweep dir. "
            f"Give the sweep dir that {program('train')} -m printed (outputs/multirun/<date>/<time>, where "
            f"Hydra wrote {MULTIRUN_CONFIG}) or the sweep's parent MLflow run id; to continue "
            "one run, drop -m."
        )
    return path


def _parent_run_sweep_dir(run_id: str) -> Path:
    """The sweep dir a parent MLflow run names (its ``ktrain.sweep.dir`` tag)."""
    from mlflow import MlflowClient  # only for a parent run id
    from mlflow.exceptions import MlflowException

    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'outputs' / 'mlflow.db'}"
    try:
        tags = MlflowClient(uri).get_run(run_id).data.tags
    except MlflowException as error:
        raise UserError(f"-m resume={run_id} is neither a sweep dir nor a run at the tracking server {uri}.") from error
    if f"{SWEEP_TAG_PREFIX}dir" not in tags:
        raise UserError(
            f"-m resume={run_id}: MLflow run {run_id} is not a sweep's parent run (no {SWEEP_TAG_PREFIX}dir tag)."
        )
    sweep_dir = Path(tags[f"{SWEEP_TAG_PREFIX}dir"])
    if not (sweep_dir / MULTIRUN_CONFIG).is_file():  # on a machine that lacks it
        _download_sweep(MlflowClient(uri), run_id, sweep_dir)
    return sweep_dir


def _download_sweep(client, run_id: str, sweep_dir: Path) -> None:
    """The sweep dir made again from its parent run: Hydra's record of the sweep and the record
    of the parent run (each job then fetches its own backup: ``continue_job``)."""
    from mlflow.exceptions import MlflowException

    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        client.download_artifacts(run_id, MULTIRUN_CONFIG, str(sweep_dir))
    except OSError as error:
        raise UserError(
            f"-m resume={run_id}: the sweep's dir {sweep_dir} is not on this machine and cannot be made "
            f"here ({error.strerror}). Continue it where that path can be written (the jobs' run dirs go there)."
        ) from error
    except MlflowException as error:
        raise UserError(
            f"-m resume={run_id}: the sweep's dir {sweep_dir} is not on this machine, and its parent run has no "
            f"{MULTIRUN_CONFIG} artifact to make it again from. Continue it on the machine that holds the dir, "
            "with -m resume=<sweep dir>."
        ) from error
    record_parent(sweep_dir, run_id)


# --- inside the continued sweep: its parent run and each job's earlier child run -----------


def reopened_parent(sweep_dir: Path, client) -> str | None:
    """The parent run of the sweep in ``sweep_dir``, RUNNING again, if this process continues
    that sweep (``-m resume=``); else None."""
    if not continues(sweep_dir):
        return None
    run_id = recorded_parent(sweep_dir)
    client.update_run(run_id, status="RUNNING")
    if ERROR_TAG in client.get_run(run_id).data.tags:  # the tag of its early end
        client.delete_tag(run_id, ERROR_TAG)
    log.info("mlflow: sweep %s continued in its parent run %s", sweep_dir, run_id)
    return run_id


@dataclass(frozen=True)
class EarlierRun:
    """A job's child run from an earlier try of the sweep."""

    run_id: str
    status: str
    best: float


def earlier_run(sweep, number: int, monitor: str) -> EarlierRun | None:
    """The child run job ``number`` of ``sweep`` left, if any (the latest)."""
    query = f"tags.{PARENT_RUN_TAG} = '{sweep.parent_run_id}' and tags.`{JOB_TAG}` = '{number}'"
    runs = sweep.client().search_runs([sweep.experiment_id], query, order_by=["attributes.start_time DESC"])
    if not runs:
        return None
    run = runs[0]
    best = run.data.metrics.get(f"best_{monitor}", math.nan)
    return EarlierRun(run.info.run_id, run.info.status, best)


def continue_job(sweep, number: int, run_dir: Path, earlier: EarlierRun) -> str | None:
    """The child run a job resumes: its backup in ``run_dir``, or downloaded; None (the old
    child deleted, so that the summary counts the job once) if it has no backup to resume."""
    from ktrain.resume.holder import refuse_if_tagged
    from ktrain.tracking.fetch_run import fetch_run

    what = f"sweep job {number}: its MLflow run {earlier.run_id}"
    try:
        fetch_run(earlier.run_id, sweep.tracking_uri, run_dir, lambda tags: refuse_if_tagged(tags, what))
    except UserError as refused:
        if "no uploaded backup" not in str(refused):
            raise
        log.info("sweep: job %d's run %s has no backup; it runs anew", number, earlier.run_id)
        sweep.client().delete_run(earlier.run_id)
        return None
    log.info("sweep: job %d resumes its run %s (%s)", number, earlier.run_id, earlier.status)
    return earlier.run_id
