"""The lifecycle of one MLflow run: started before training (or reopened to resume it),
ended with a status that tells the truth (FINISHED, FAILED with the reason, or KILLED),
checkpoints kept either way."""

import contextlib
import json
import logging
import random
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from ktrain.errors import UserError
from ktrain.names import (
    CHECKPOINT_DIR,
    ERROR_TAG,
    HYDRA_ARTIFACTS,
    HYDRA_DIR,
    KILLED_TAG,
    LOCAL_UI,
    RUN_RECORD,
)
from ktrain.tracking import quiet_mlflow_console
from ktrain.tracking.logged_models import FinalModel, linked, log_final_model
from ktrain.tracking.params import flatten
from ktrain.tracking.registry import register
from ktrain.tracking.store import sqlite_path, store_lock
from ktrain.tracking.system_metrics import PeerSystemMetrics, SystemMetrics

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
        remember: dict[str, str] | None = None,
        system_metrics: bool = True,
        node_id: str | None = None,
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
        self.remember = remember or {}  # what else the run dir's record keeps for a resume
        self.system_metrics = system_metrics
        self.node_id = node_id  # this process among a multi-process run's, for its system metrics
        self._params: dict[str, str] = {}
        self._datasets: dict[str, tuple[str, str]] = {}  # context -> (name, digest) of each logged split
        self._monitor = None

    def __enter__(self) -> "MlflowRun":
        quiet_mlflow_console()
        mlflow.set_tracking_uri(self.tracking_uri)
        # MLflow's own monitor (MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING) is never started: ktrain's is.
        if self.reopened:
            run = mlflow.start_run(run_id=self.run_id, log_system_metrics=False)
            mlflow.set_tags(self.tags)
            self._params = dict(run.data.params)
            record_file = self.run_dir / RUN_RECORD
            if record_file.is_file():  # what this try adds to the record (a raised fit.epochs)
                record_file.write_text(json.dumps({**json.loads(record_file.read_text()), **self.remember}, indent=1))
        else:
            experiment_id = ensure_experiment(self.tracking_uri, self.experiment_name)
            with _unseeded_random():  # MLflow draws a run's name from random, which the run's seed set
                run = mlflow.start_run(
                    experiment_id=experiment_id,
                    run_name=self.run_name,
                    tags=self.tags,
                    parent_run_id=self.parent_run_id,
                    log_system_metrics=False,
                )
            self.run_id = run.info.run_id
            record = {"run_id": self.run_id, "tracking_uri": self.tracking_uri, "experiment_id": run.info.experiment_id}
            record.update(self.remember)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / RUN_RECORD).write_text(json.dumps(record, indent=1))
        if self.system_metrics:
            self._monitor = SystemMetrics(self.run_id, self.tracking_uri, self.node_id, self.reopened).start()
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
            reason = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"  # a refusal's paragraph
            mlflow.set_tag(ERROR_TAG, reason[:5000])
            log.debug("run failed", exc_info=(exc_type, exc, tb))  # into the uploaded log file only
        if self._monitor is not None:
            self._monitor.close()
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

    def log_metrics(self, metrics: dict[str, float], step: int | None = None, model_id: str | None = None) -> None:
        """Log ``metrics``; with ``model_id``, linked to that LoggedModel too, and to the split
        each was measured on (``logged_models.measured_on``)."""
        if model_id is None:
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)
            return
        timestamp = int(time.time() * 1000)
        measured = [Metric(key, float(value), timestamp, step or 0) for key, value in metrics.items()]
        mlflow.MlflowClient(self.tracking_uri).log_batch(
            self.run_id, metrics=linked(measured, model_id, self._datasets)
        )

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        mlflow.log_artifact(str(path), artifact_path)

    def prepare_model_logging(self) -> None:
        """Start importing, in a daemon thread, what ``log_keras_model`` needs (MLflow's pyfunc
        and signature modules, otherwise imported at the run's end). Called when training
        begins, it runs while the backend trains, on the core training leaves."""
        threading.Thread(target=_load_model_logging, name="ktrain-model-logging", daemon=True).start()

    def log_dataset(self, name: str, context: str, source: str, digest: str, schema: dict, profile: dict) -> None:
        """Record a split of the run's data (``mlflow.log_input``): ``context`` is training,
        validation or testing."""
        from ktrain.tracking.datasets import split_dataset

        dataset = split_dataset(name, source, digest, schema, profile)
        try:
            mlflow.log_input(dataset, context=context)
        except MlflowException as error:
            # MLflow's store looks a dataset up, then inserts it: two jobs of a parallel sweep
            # logging the same split at once both insert, and one fails on the table's unique key
            # (a PostgreSQL server's sweep, one in two on 2 loaded cores; a SQLite server's too).
            # Its transaction was rolled back: tried again, it finds the other's dataset.
            if "unique constraint" not in str(error).lower():
                raise
            mlflow.log_input(dataset, context=context)
        self._datasets[context] = (dataset.name, dataset.digest)

    def log_keras_model(
        self, model, model_file: Path, sample_inputs, custom_objects=None, code_paths=(), step: int = 0, tags=None
    ) -> str:
        """Log the model saved in ``model_file`` as the run's final model, a LoggedModel of
        ``step`` (the last epoch) with ``tags``: an MLflow pyfunc model that loads it with the
        user's objects (``custom_objects``: name -> ``module:Class``) from the modules it carries
        (``code_paths``), so that ``mlflow.pyfunc.load_model`` and ``mlflow models serve`` work
        on it anywhere (``ktrain.tracking.keras_pyfunc``); return its model id. The signature
        comes from ``sample_inputs``."""
        import keras  # this module is also loaded where Keras is not (a sweep's parent process)

        from ktrain.tracking.signatures import signature as signed

        # A plain call, not predict: under MultiWorkerMirroredStrategy predict gathers across
        # the workers, and only the chief logs the model.
        # A KerasHub task preprocesses its raw inputs (strings, pixels) in predict, not in a call.
        preprocessor = getattr(model, "preprocessor", None)
        inputs = preprocessor(sample_inputs) if preprocessor is not None else sample_inputs
        outputs = keras.tree.map_structure(keras.ops.convert_to_numpy, model(inputs, training=False))
        signature = signed(sample_inputs, outputs)
        requirements = [f"keras=={keras.__version__}", f"mlflow=={mlflow.__version__}"]
        for module, package in (("tensorflow", "tensorflow"), ("keras_hub", "keras-hub")):
            if sys.modules.get(module):  # imported (None marks a blocked import)
                requirements.append(f"{package}=={sys.modules[module].__version__}")
        client = mlflow.MlflowClient(self.tracking_uri)
        saved = FinalModel(model_file, signature, requirements, dict(custom_objects or {}), list(code_paths))
        return log_final_model(client, self.run_id, saved, step, tags or {})

    def register_model(self, name: str, model_id: str, alias: str, monitor: str, best: float) -> str:
        """Register LoggedModel ``model_id`` as a new version of ``name`` with ``alias``; return the version."""
        return register(mlflow.MlflowClient(self.tracking_uri), name, model_id, self.run_id, alias, monitor, best)

    def _keep_run_files(self) -> None:
        checkpoints = self.run_dir / CHECKPOINT_DIR
        if self.checkpoints_at_end and checkpoints.is_dir() and any(checkpoints.iterdir()):
            mlflow.log_artifacts(str(checkpoints), CHECKPOINT_DIR)
        for log_file in self.run_dir.glob("*.log"):
            mlflow.log_artifact(str(log_file))


class UnrecordedRun:
    """The tracked run (``ktrain.contracts.TrackedRun``) of a multi-worker or multi-host run's
    other processes: the chief records the run, the others train alongside it and record
    nothing but their system metrics (``peer_metrics``, into the chief's run)."""

    run_id = None

    def __init__(self, peer_metrics: PeerSystemMetrics | None = None):
        self.peer_metrics = peer_metrics

    def __enter__(self) -> "UnrecordedRun":
        if self.peer_metrics is not None:
            self.peer_metrics.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.peer_metrics is not None:
            self.peer_metrics.__exit__(exc_type, exc, tb)
        return False

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def logged_params(self) -> dict[str, str]:
        return {}

    def set_tags(self, tags: dict[str, str]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None, model_id: str | None = None) -> None:
        pass

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        pass

    def prepare_model_logging(self) -> None:
        pass

    def log_dataset(self, name: str, context: str, source: str, digest: str, schema: dict, profile: dict) -> None:
        pass

    def log_keras_model(
        self, model, model_file: Path, sample_inputs, custom_objects=None, code_paths=(), step: int = 0, tags=None
    ) -> None:
        """The model work of ``MlflowRun.log_keras_model`` (a call), to nothing: across the
        processes of a multi-host run it is a collective that all must join."""
        import keras  # as in MlflowRun.log_keras_model

        keras.tree.map_structure(keras.ops.convert_to_numpy, model(sample_inputs, training=False))

    def register_model(self, name: str, model_id: str, alias: str, monitor: str, best: float) -> None:
        pass


def _load_model_logging() -> None:
    try:
        import mlflow.pyfunc  # noqa: F401 (what log_keras_model imports)
        from mlflow.models import infer_signature  # noqa: F401
        from mlflow.utils.requirements_utils import _init_packages_to_modules_map

        # MLflow checks a logged model's requirements against the installed packages, and first
        # maps every installed package's modules: 0.3 s at the run's end, kept for the process.
        _init_packages_to_modules_map()
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
    experiment_id = ensure_experiment(tracking_uri, experiment_name)  # first: it migrates a new store in its lock
    client = mlflow.MlflowClient(tracking_uri)
    run_id = client.create_run(experiment_id, run_name=run_name).info.run_id
    for key, value in flatten(params).items():
        client.log_param(run_id, key, value)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    for path in artifacts:
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED")
    return run_id


def log_files(tracking_uri: str, run_id: str, paths: list[Path], artifact_path: str) -> None:
    """Log files and folders (a folder as one artifact folder of its name) into ``artifact_path``
    of run ``run_id``, whatever its status."""
    client = mlflow.MlflowClient(tracking_uri)
    for path in paths:
        if path.is_dir():
            client.log_artifacts(run_id, str(path), f"{artifact_path}/{path.name}")
        else:
            client.log_artifact(run_id, str(path), artifact_path)


def ensure_experiment(tracking_uri: str, name: str) -> str:
    """The id of experiment ``name``, created if missing.

    In a local SQLite store MLflow would put artifacts in ``./mlruns`` under whatever
    directory a run starts from; ktrain keeps them beside the database instead, so one
    store holds every run of the project.
    """
    with store_lock(tracking_uri):  # the client's store creates and migrates a new database's tables
        client = mlflow.MlflowClient(tracking_uri)  # not MLflow's current URI: the LR range test sets none
        experiment = client.get_experiment_by_name(name)
        if experiment is not None and experiment.lifecycle_stage == "deleted":
            raise UserError(_deleted(tracking_uri, name, experiment.experiment_id))
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if tracking_uri.startswith("sqlite:///"):
            location = (sqlite_path(tracking_uri).parent / "mlartifacts").resolve().as_uri()
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException:  # another client of the server created it in the meantime
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id


def _deleted(tracking_uri: str, name: str, experiment_id: str) -> str:
    """Why a run cannot go into deleted experiment ``name``, and the three ways on."""
    return (
        f"the MLflow experiment {name!r} (id {experiment_id}) at {tracking_uri} was deleted, and MLflow "
        "records no run in a deleted experiment (nor makes a new one of that name while the deleted one "
        f"is kept). Restore it (MLFLOW_TRACKING_URI={tracking_uri} mlflow experiments restore "
        f"--experiment-id {experiment_id}), record into another experiment (mlflow.experiment_name=<name>, "
        "or MLFLOW_EXPERIMENT_NAME), or remove it for good first (mlflow gc --backend-store-uri "
        f"{tracking_uri} --experiment-ids {experiment_id}; a tracking server's own store is cleaned "
        "where the server runs)."
    )


def ui_hint(tracking_uri: str) -> str:
    """How to look at runs of this tracking URI in the MLflow UI."""
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {tracking_uri}"
    return f"mlflow ui --backend-store-uri {tracking_uri}   # then open {LOCAL_UI}"


@contextlib.contextmanager
def _unseeded_random() -> Iterator[None]:
    """Python's ``random`` seeded afresh inside the block and given back its state after it, so
    that what the block draws differs from run to run and what the run draws does not."""
    state = random.getstate()
    random.seed()
    try:
        yield
    finally:
        random.setstate(state)
