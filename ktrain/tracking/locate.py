"""A trained run's files (its model, config, targets and class names): from its run dir, or downloaded
from MLflow by run id or as a registered model's version (``models:/<name>@<alias>``, its
run's config and class names beside it). Used by ``ktrain-predict``, ``ktrain-export`` and by
``model=saved model.from_run=...``."""

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from ktrain.errors import UserError
from ktrain.names import (
    BEST_CHECKPOINT,
    CLASS_NAMES,
    FINAL_MODEL,
    HYDRA_ARTIFACTS,
    KERAS_FLAVOR_MODEL_FILE,
    LOGGED_MODEL,
    LOGGED_MODEL_FILE,
    RUN_RECORD,
    SAMPLE_INPUTS,
    SAVED_CONFIG,
    TARGETS,
    program,
)
from ktrain.tracking import quiet_mlflow_console
from ktrain.tracking.registry import find_version, is_registered_model

log = logging.getLogger(__name__)

MODEL_FILES = {"final": FINAL_MODEL, "best": BEST_CHECKPOINT}
# In MLflow: the final model is the logged model's .keras file (where runs logged before ktrain
# logged its own pyfunc model kept it: MLflow's Keras flavor's data folder), the best checkpoint
# a plain artifact; runs:/ URIs reach both.
LOGGED_MODEL_FILES = {"final": (LOGGED_MODEL_FILE, KERAS_FLAVOR_MODEL_FILE), "best": (BEST_CHECKPOINT,)}
SAMPLE_FILES = (SAMPLE_INPUTS, str(Path(SAMPLE_INPUTS).with_suffix(".npz")))  # of one input; of named inputs


@dataclass(frozen=True)
class ModelFiles:
    """The files of a trained run that predictions need; all but ``model`` may be absent (a run
    of an earlier ktrain wrote no ``targets.json``)."""

    model: Path
    config: Path | None
    class_names: Path | None
    targets: Path | None = None
    sample_inputs: Path | None = None  # a few raw test inputs (runs since ktrain-export)
    run_id: str | None = None  # the MLflow run that logged the model, where known
    tracking_uri: str | None = None  # the store that holds run_id (a run dir's record names its own)
    source: str = ""  # the model as users name it: its file in a run dir, a runs:/ or models:/ URI

    def shown(self) -> str:
        """The model's name for the log (a download's temporary path means nothing to a user)."""
        return self.source or str(self.model)


def locate_run(run: str, checkpoint: str, tracking_uri: str, downloads: Path, key: str = "run") -> ModelFiles:
    """The model, config and class names of a run dir, or of an MLflow run (downloaded);
    ``key`` is the config key that named the run, for the refusals."""
    if is_registered_model(run):
        return _download_version(run, checkpoint, tracking_uri, downloads, key)
    run_dir = Path(run).expanduser()
    if run_dir.is_dir():
        model = run_dir / MODEL_FILES[checkpoint]
        if not model.is_file():
            raise UserError(f"{key}={run!r} is a folder without {MODEL_FILES[checkpoint]}: {_no_model(checkpoint)}.")
        found = [run_dir / name for name in (SAVED_CONFIG, CLASS_NAMES, TARGETS)]
        samples = [run_dir / name for name in SAMPLE_FILES]
        record = json.loads((run_dir / RUN_RECORD).read_text()) if (run_dir / RUN_RECORD).is_file() else {}
        kept = next((path for path in samples if path.is_file()), None)
        found_files = (path if path.is_file() else None for path in found)
        return ModelFiles(model, *found_files, kept, record.get("run_id"), record.get("tracking_uri", tracking_uri))
    return _download_run(run, checkpoint, tracking_uri, downloads, key)


def _no_model(checkpoint: str) -> str:
    if checkpoint == "final":
        return (
            "the run did not finish, or is not a training run (with checkpoint=best, the best "
            "checkpoint is used instead)"
        )
    return "the run wrote no checkpoint (its callbacks had no model_checkpoint)"


def _download_version(uri: str, checkpoint: str, tracking_uri: str, downloads: Path, key: str) -> ModelFiles:
    """The model of a registered version, with the config and class names of the run that logged it."""
    if checkpoint != "final":
        raise UserError(
            f"{key}={uri} is a registered model, one model; checkpoint={checkpoint} names a checkpoint of a "
            f"run: drop checkpoint=, or give the run ({key}=<run dir or run id>) with checkpoint={checkpoint}."
        )
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        raise UserError(f"{key}={uri}: there is no MLflow store at {tracking_uri} (set MLFLOW_TRACKING_URI).")
    import mlflow
    from mlflow.artifacts import download_artifacts

    quiet_mlflow_console()
    mlflow.set_tracking_uri(tracking_uri)
    version = find_version(mlflow.MlflowClient(tracking_uri), uri, tracking_uri)
    folder = Path(download_artifacts(artifact_uri=f"models:/{version.name}/{version.version}", dst_path=str(downloads)))
    found = [folder / Path(file).relative_to(LOGGED_MODEL) for file in LOGGED_MODEL_FILES["final"]]
    model = next((path for path in found if path.is_file()), None)
    if model is None:
        raise UserError(f"{key}={uri}: version {version.version} of {version.name!r} is not a model ktrain logged.")
    source = f"models:/{version.name}/{version.version}"
    if not version.run_id:
        return ModelFiles(model, None, None, source=source)
    files = _download_run(version.run_id, None, tracking_uri, downloads, key)
    return replace(files, model=model, source=source)


def _download_run(run_id: str, checkpoint: str | None, tracking_uri: str, downloads: Path, key: str) -> ModelFiles:
    unknown = UserError(
        f"{key}={run_id!r} is neither a run dir nor the id of a run in the MLflow store at "
        f"{tracking_uri}; give the run dir or the MLflow run id that {program('train')} printed (set "
        "MLFLOW_TRACKING_URI or mlflow.tracking_uri for another store)."
    )
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        raise unknown  # asking MLflow would create an empty store
    import mlflow  # only for a run given by id: a second of startup
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    quiet_mlflow_console()
    # Process-wide: runs:/<id>/model reaches the logged model only through the global URI.
    mlflow.set_tracking_uri(tracking_uri)
    try:
        mlflow.get_run(run_id)
    except MlflowException as error:
        raise unknown from error

    def fetch(artifact: str) -> Path | None:
        try:
            return Path(download_artifacts(artifact_uri=f"runs:/{run_id}/{artifact}", dst_path=str(downloads)))
        except (MlflowException, OSError):
            log.debug("run %s has no artifact %s", run_id, artifact, exc_info=True)
            return None

    # checkpoint None: the run's config, targets and class names only
    model = next(filter(None, map(fetch, LOGGED_MODEL_FILES[checkpoint])), None) if checkpoint else None
    if model is None and checkpoint:
        why = "it was trained with mlflow.log_model=false, or " if checkpoint == "final" else ""
        missing = LOGGED_MODEL_FILES[checkpoint][0]
        raise UserError(f"MLflow run {run_id} has no {missing}: {why}{_no_model(checkpoint)}.")
    config = fetch(f"{HYDRA_ARTIFACTS}/{SAVED_CONFIG.name}")
    samples = next(filter(None, map(fetch, SAMPLE_FILES)), None)
    source = f"runs:/{run_id}/{model.relative_to(downloads)}" if model else ""
    return ModelFiles(model, config, fetch(CLASS_NAMES), fetch(TARGETS), samples, run_id, tracking_uri, source)
