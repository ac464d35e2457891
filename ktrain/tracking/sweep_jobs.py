"""A continued sweep in MLflow (``ktrain.sweep_resume``): the same parent run, reopened, and
each job's earlier child run, which tells the job to skip, resume or run."""

import logging
import math
from dataclasses import dataclass
from pathlib import Path

from ktrain.errors import UserError
from ktrain.names import ERROR_TAG, JOB_TAG, PARENT_RUN_TAG
from ktrain.sweep_resume import continues, recorded_parent

log = logging.getLogger(__name__)


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
    from ktrain.tracking.fetch_run import fetch_run

    try:
        fetch_run(earlier.run_id, sweep.tracking_uri, run_dir)
    except UserError as refused:
        if "no uploaded backup" not in str(refused):
            raise
        log.info("sweep: job %d's run %s has no backup; it runs anew", number, earlier.run_id)
        sweep.client().delete_run(earlier.run_id)
        return None
    log.info("sweep: job %d resumes its run %s (%s)", number, earlier.run_id, earlier.status)
    return earlier.run_id
