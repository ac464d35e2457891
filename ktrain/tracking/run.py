"""The lifecycle of one MLflow run: started before training (or reopened to resume it),
ended with a status that tells the truth (FINISHED, FAILED with the reason, or KILLED),
checkpoints kept either way."""

import json
import logging
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from ktrain.names import (
    CHECKPOINT_DIR,
    ERROR_TAG,
    HYDRA_ARTIFACTS,
    HYDRA_DIR,
    KILLED_TAG,
    LOCAL_UI,
    LOGGED_MODEL,
    RUN_RECORD,
)
from ktrain.tracking.params import flatten

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger(__name__)


class MlflowRun:
    """The tracked run (``ktrain.contracts.TrackedRun``) of one training run: a context manager
    around ``mlflow.start_run``.

    On entry it writes ``RUN_RECORD`` into the run directory, so that the run can be found
    again to resume it; given ``run_id``, it reopens that run instead of starting one. On exit
    it uploads what the run directory holds that must not be lost (checkpoints and the log
    file) and ends the run FINISHED, FAILED (with ``ktrain.error``) or KILLED.
    """

    def __init__(
        self,
        tracking_uri: str,
        experiment_name: str,
        run_dir: Path,
        run_name: str | None = None,
        tags: dict[str, str] | None = None,
        parent_run_id: str | None = None,
        run_id: str | None = None,
        checkpoints_at_end: bool = True,
    ):
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_dir = Path(run_dir)
        self.run_name = run_name
        self.tags = tags or {}
        self.parent_run_id = parent_run_id
        self.run_id = run_id
        self.reopened = run_id is not None
        self.checkpoints_at_end = checkpoints_at_end  # False: they were sent as written
        self._params: dict[str, str] = {}

    def __enter__(self) -> "MlflowRun":
        mlflow.set_tracking_uri(self.tracking_uri)
        if self.reopened:
            run = mlflow.start_run(run_id=self.run_id)
            mlflow.set_tags(self.tags)
            self._params = dict(run.data.params)
        else:
            run = mlflow.start_run(
                experiment_id=ensure_experiment(self.tracking_uri, self.experiment_name),
                run_name=self.run_name,
                tags=self.tags,
                parent_run_id=self.parent_run_id,
            )
            self.run_id = run.info.run_id
            record = {"run_id": self.run_id, "tracking_uri": self.tracking_uri, "experiment_id": run.info.experiment_id}
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / RUN_RECORD).write_text(json.dumps(record, indent=1))
        hydra_files = self.run_dir / HYDRA_DIR
        if hydra_files.is_dir():
            mlflow.log_artifacts(str(hydra_files), HYDRA_ARTIFACTS)
        log.info(
            "mlflow: run %s in experiment %r at %s%s",
            self.run_id,
            self.experiment_name,
            self.tracking_uri,
            " (reopened)" if self.reopened else "",
        )
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            status = "FINISHED"
        elif isinstance(exc, (KeyboardInterrupt, SystemExit)):  # SystemExit: e.g. submitit's requeue
            status = "KILLED"  # (it exits from its signal handler, in the middle of fit)
            mlflow.set_tag(KILLED_TAG, str(exc) if isinstance(exc, KeyboardInterrupt) else f"exit {exc.code}")
        else:
            status = "FAILED"
            mlflow.set_tag(ERROR_TAG, f"{type(exc).__name__}: {exc}"[:5000])
            log.debug("run failed", exc_info=(exc_type, exc, tb))  # into the uploaded log file only
        self._keep_run_files()
        mlflow.flush_async_logging()
        mlflow.end_run(status)
        log.info("mlflow: run %s ended %s", self.run_id, status)
        return False

    def log_params(self, params: dict[str, Any]) -> None:
        """Log params; a reopened run keeps the values it has (MLflow params never change)."""
        flat = flatten(params)
        changed = {k: v for k, v in flat.items() if k in self._params and self._params[k] != v}
        if changed:
            log.info(
                "mlflow: params keep their first values; now %s", ", ".join(f"{k}={v}" for k, v in changed.items())
            )
        new = {k: v for k, v in flat.items() if k not in self._params}
        mlflow.log_params(new)
        self._params.update(new)

    def logged_params(self) -> dict[str, str]:
        """The params the run holds: those logged so far, and a reopened run's earlier ones."""
        return dict(self._params)

    def set_tags(self, tags: dict[str, str]) -> None:
        mlflow.set_tags(tags)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        mlflow.log_artifact(str(path), artifact_path)

    def prepare_model_logging(self) -> None:
        """Start loading, in a daemon thread, what ``log_keras_model`` needs: MLflow checks a
        logged model's requirements against the installed packages, and first maps every
        installed package's modules (0.3 s of CPU here, at the run's end). Called when training
        begins, it runs while the backend trains, on the core training leaves."""
        threading.Thread(target=_load_model_logging, name="ktrain-model-logging", daemon=True).start()

    def log_keras_model(self, model, sample_inputs) -> None:
        """Log ``model`` with MLflow's Keras flavor, so ``mlflow.pyfunc.load_model`` and
        ``mlflow models serve`` work on it; the signature comes from ``sample_inputs``."""
        import keras  # this module is also loaded where Keras is not (a sweep's parent process)
        import mlflow.keras
        from mlflow.models import infer_signature

        # A plain call, not predict: under MultiWorkerMirroredStrategy predict gathers across
        # the workers, and only the chief logs the model.
        outputs = keras.ops.convert_to_numpy(model(sample_inputs, training=False))
        signature = infer_signature(sample_inputs, outputs)
        requirements = [f"keras=={keras.__version__}"]
        if sys.modules.get("tensorflow"):  # imported (None marks a blocked import)
            requirements.append(f"tensorflow=={sys.modules['tensorflow'].__version__}")
        mlflow.keras.log_model(model, name=LOGGED_MODEL, signature=signature, pip_requirements=requirements)

    def _keep_run_files(self) -> None:
        checkpoints = self.run_dir / CHECKPOINT_DIR
        if self.checkpoints_at_end and checkpoints.is_dir() and any(checkpoints.iterdir()):
            mlflow.log_artifacts(str(checkpoints), CHECKPOINT_DIR)
        for log_file in self.run_dir.glob("*.log"):
            mlflow.log_artifact(str(log_file))


class UnrecordedRun:
    """The tracked run (``ktrain.contracts.TrackedRun``) of a multi-worker or multi-host run's
    other processes: the chief records the run, the others train alongside it and record nothing."""

    run_id = None

    def __enter__(self) -> "UnrecordedRun":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        return False

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def logged_params(self) -> dict[str, str]:
        return {}

    def set_tags(self, tags: dict[str, str]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        pass

    def prepare_model_logging(self) -> None:
        pass

    def log_keras_model(self, model, sample_inputs) -> None:
        """The model work of ``MlflowRun.log_keras_model`` (a call and a save), to scratch:
        across the processes of a multi-host run each is a collective that all must join."""
        import keras  # as in MlflowRun.log_keras_model

        keras.ops.convert_to_numpy(model(sample_inputs, training=False))
        with tempfile.TemporaryDirectory(prefix="ktrain-worker-model-") as scratch:
            model.save(Path(scratch) / "model.keras")


def _load_model_logging() -> None:
    try:
        import mlflow.keras  # noqa: F401 (what log_keras_model imports)
        from mlflow.utils.requirements_utils import _init_packages_to_modules_map

        _init_packages_to_modules_map()  # MLflow keeps the map for the process
    except Exception:  # an MLflow without it: log_keras_model does the work itself
        log.debug("could not prepare the model's logging", exc_info=True)


def record_side_run(
    tracking_uri: str,
    experiment_name: str,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    artifacts: list[Path],
) -> str:
    """A finished run of its own beside the training runs (the LR range test's): its params,
    metrics and files; returns its id."""
    client = mlflow.MlflowClient(tracking_uri)
    run_id = client.create_run(ensure_experiment(tracking_uri, experiment_name), run_name=run_name).info.run_id
    for key, value in flatten(params).items():
        client.log_param(run_id, key, value)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    for path in artifacts:
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED")
    return run_id


def ensure_experiment(tracking_uri: str, name: str) -> str:
    """The id of experiment ``name``, created if missing.

    In a local SQLite store MLflow would put artifacts in ``./mlruns`` under whatever
    directory a run starts from; ktrain keeps them beside the database instead, so one
    store holds every run of the project.
    """
    with _store_lock(tracking_uri):
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if tracking_uri.startswith("sqlite:///"):
            location = (sqlite_path(tracking_uri).parent / "mlartifacts").resolve().as_uri()
        try:
            return mlflow.create_experiment(name, artifact_location=location)
        except MlflowException:  # another client of the server created it in the meantime
            experiment = mlflow.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id


@contextmanager
def _store_lock(tracking_uri: str) -> Iterator[None]:
    """For a SQLite store, one process at a time: MLflow creates and migrates the tables on
    a process's first call, and two processes doing that at once both fail. The lock is a
    file beside the database (``fcntl``; on Windows, where it is missing, no lock)."""
    if not tracking_uri.startswith("sqlite:///"):
        yield
        return
    database = sqlite_path(tracking_uri)
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".lock"), "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def sqlite_path(tracking_uri: str) -> Path:
    """The database file of a ``sqlite:///`` tracking URI (three slashes, then the path)."""
    return Path(tracking_uri.removeprefix("sqlite:///"))


def ui_hint(tracking_uri: str) -> str:
    """How to look at runs of this tracking URI in the MLflow UI."""
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {tracking_uri}"
    return f"mlflow ui --backend-store-uri {tracking_uri}   # then open {LOCAL_UI}"
