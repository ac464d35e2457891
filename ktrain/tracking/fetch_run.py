"""``resume=<MLflow run id>``: a run dir rebuilt from the tracking server alone.

A run sends its ``.hydra/`` config when it starts, its best checkpoint as Keras writes it and
its backup after its epochs (``ktrain.tracking.run_uploads``). This downloads them into a run
dir, ``outputs/resumed/<run id>`` under the current directory unless ``hydra.run.dir`` says
otherwise, with an ``mlflow_run.json`` naming the run and the server, so that the resume
then goes on as one from a run dir: the same MLflow run, the backup's epoch, the callbacks'
progress. A dir that already holds the run keeps its own backup when it is not older.
"""

import json
import logging
from collections.abc import Callable
from pathlib import Path

from ktrain.errors import UserError
from ktrain.names import (
    BACKUP_ARTIFACTS,
    BACKUP_DIR,
    BEST_CHECKPOINT,
    HYDRA_ARTIFACTS,
    HYDRA_DIR,
    RUN_RECORD,
    SAVED_CONFIG,
    program,
)
from ktrain.names import BACKUP_STATE as STATE

log = logging.getLogger(__name__)


def fetch_run(
    run_id: str, tracking_uri: str, run_dir: Path, check_tags: Callable[[dict[str, str]], None] | None = None
) -> Path:
    """Download MLflow run ``run_id``'s config and latest backup into ``run_dir``; return it.
    ``check_tags`` is given the run's tags before anything is downloaded, and may refuse it
    (resume's check that no live process trains it). ``UserError`` for a run the server does
    not know, and one without an uploaded backup."""
    from mlflow import MlflowClient  # only for a resume by run id: a second of startup

    where = f"resume={run_id}"
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        raise UserError(_unknown(run_id, tracking_uri))  # asking MLflow would create an empty store
    client = MlflowClient(tracking_uri)
    run = _get_run(client, run_id, tracking_uri)
    if check_tags is not None:
        check_tags(dict(run.data.tags))
    state = _remote_state(client, run)
    local = _local_state(run_dir, run_id)
    if local is not None and local["epoch"] >= state["epoch"]:
        log.info("resume: %s holds the backup of epoch %d; it is used as it is", run_dir, local["epoch"])
        return run_dir
    backup = run_dir / BACKUP_DIR
    backup.mkdir(parents=True, exist_ok=True)
    for path in backup.iterdir():
        path.unlink()
    _download(client, run_id, f"{BACKUP_ARTIFACTS}/{state['arrays']}", backup)
    if not (backup / state["arrays"]).is_file():
        raise UserError(f"{where}: MLflow run {run_id}'s backup names {state['arrays']}, which it lacks.")
    (backup / STATE).write_text(json.dumps(state))  # last: it names the arrays file
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        _download(client, run_id, f"{HYDRA_ARTIFACTS}/{name}", run_dir / HYDRA_DIR)
    _download(client, run_id, BEST_CHECKPOINT, run_dir / Path(BEST_CHECKPOINT).parent)
    if not (run_dir / SAVED_CONFIG).is_file():
        raise UserError(f"{where}: MLflow run {run_id} has no {HYDRA_ARTIFACTS}/config.yaml, so its config is unknown.")
    record = {"run_id": run_id, "tracking_uri": tracking_uri, "experiment_id": run.info.experiment_id}
    (run_dir / RUN_RECORD).write_text(json.dumps(record, indent=1))
    log.info(
        "resume: downloaded MLflow run %s's config and backup of epoch %d into %s", run_id, state["epoch"], run_dir
    )
    return run_dir


def _unknown(run_id: str, tracking_uri: str) -> str:
    return (
        f"resume={run_id} is neither a run dir nor the id of a run at the tracking server "
        f"{tracking_uri}. Give the run dir or the MLflow run id that {program('train')} printed, with "
        "MLFLOW_TRACKING_URI (or mlflow.tracking_uri=...) set to the server the run was recorded in."
    )


def _get_run(client, run_id: str, tracking_uri: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as error:
        raise UserError(_unknown(run_id, tracking_uri)) from error


def _remote_state(client, run) -> dict:
    """The run's uploaded ``backup/state.json``; ``UserError`` saying what the run logged if none."""
    import tempfile

    from mlflow.exceptions import MlflowException

    run_id = run.info.run_id
    try:
        with tempfile.TemporaryDirectory() as scratch:
            path = client.download_artifacts(run_id, f"{BACKUP_ARTIFACTS}/{STATE}", scratch)
            return json.loads(Path(path).read_text())
    except (MlflowException, OSError) as error:
        logged = sorted(a.path for a in client.list_artifacts(run_id)) or ["no artifacts"]
        epochs = max((len(client.get_metric_history(run_id, key)) for key in run.data.metrics), default=0)
        raise UserError(
            f"resume={run_id}: MLflow run {run_id} ({run.info.status}) has no uploaded backup "
            f"({BACKUP_ARTIFACTS}/{STATE}), so it cannot be continued from the tracking server: it "
            f"logged {', '.join(logged)} and {epochs} epochs of metrics. A run sends its backup "
            "as it trains since ktrain recorded runs this way; an older run, or one stopped before "
            "its first epoch, continues only from its own run dir (resume=<run dir>)."
        ) from error


def _local_state(run_dir: Path, run_id: str) -> dict | None:
    """The backup ``run_dir`` already holds of this run, if any."""
    try:
        if json.loads((run_dir / RUN_RECORD).read_text())["run_id"] != run_id:
            return None
        return json.loads((run_dir / BACKUP_DIR / STATE).read_text())
    except (OSError, ValueError, KeyError):
        return None


def _download(client, run_id: str, artifact: str, folder: Path) -> None:
    """Download one artifact into ``folder`` if the run has it."""
    import tempfile

    from mlflow.exceptions import MlflowException

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        try:
            downloaded = Path(client.download_artifacts(run_id, artifact, scratch))
        except (MlflowException, OSError):
            log.debug("run %s has no %s", run_id, artifact, exc_info=True)
            return
        downloaded.replace(folder / downloaded.name)
