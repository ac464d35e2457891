"""A run's models as MLflow 3 LoggedModels: every checkpoint file the run holds in MLflow, and
the final model, each with its step (the epoch) and its metrics linked to it (``model_id``),
so that the UI's Models tab and ``mlflow.search_logged_models`` rank them:

    mlflow.search_logged_models(
        filter_string=f"source_run_id = '{run_id}' AND tags.`ktrain.checkpoint` != 'final'",
        order_by=[{"field_name": "metrics.val_loss", "ascending": True}], max_results=1, output_format="list")

A checkpoint's model is external (``mlflow.model.isExternal``): its file is the run's artifact
that its tag ``ktrain.checkpoint.artifact`` names (``checkpoints/best.keras``). When a newer
file replaces that artifact (the next best) the older model is deleted, and so is an epoch's
model when its file is (``mlflow.keep_checkpoints``): the run's checkpoint models are the
checkpoints it holds. The final model is an MLflow pyfunc model that loads the run's ``.keras``
file (``keras_pyfunc.py``), and its metrics are linked here: MLflow's ``log_model`` links every
metric of its step, the system metrics' samples among them.

A model costs about 23 ms of CPU in a SQLite store (create, link, step, finalize, delete the
one it replaces; measured), more than a short epoch can spare, so checkpoint models are made
at most every ``INTERVAL_S``, in a thread of their own, for the newest file of each artifact
(and for all that wait when the run ends): the best and the last, 0.15 % of a core.

A linked metric also names the split it was measured on, as the run logged it
(``mlflow.log_input``): ``val_*`` the validation split, ``test_*`` the test split, the others
the training split; a run that logged no split links none.
"""

import logging
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import LoggedModelOutput, LoggedModelStatus, Metric
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_IS_EXTERNAL

from ktrain.names import CHECKPOINT_ARTIFACT_TAG, CHECKPOINT_TAG, LOGGED_MODEL

log = logging.getLogger(__name__)

# MLflow warns, on every run's console, that a pyfunc model saved with a signature but no input
# example might not match its signature: ktrain's is inferred from the run's own samples
# (``signatures.py``), so the advice does not apply, and an example of image inputs would be
# megabytes of JSON in every run.
warnings.filterwarnings("ignore", message=".*An input example was not provided when logging the model")

INTERVAL_S = 30.0
CHECKPOINT_MODEL_TYPE = "keras-checkpoint"


def linked(metrics: list[Metric], model_id: str, datasets: dict[str, tuple[str, str]]) -> list[Metric]:
    """``metrics`` again, linked to ``model_id`` and to the split each was measured on
    (``datasets``: context -> (name, digest), see ``run_datasets``): logged with the timestamps
    they were first logged with, they add no second value to the run's history."""
    return [Metric(m.key, m.value, m.timestamp, m.step, model_id, *measured_on(m.key, datasets)) for m in metrics]


def measured_on(key: str, datasets: dict[str, tuple[str, str]]) -> tuple[str | None, str | None]:
    """The (name, digest) of the split metric ``key`` was measured on, or (None, None)."""
    context = "validation" if key.startswith("val_") else "testing" if key.startswith("test_") else "training"
    return datasets.get(context, (None, None))


def run_datasets(client, run_id: str) -> dict[str, tuple[str, str]]:
    """The splits run ``run_id`` logged (``mlflow.log_input``): context -> (name, digest)."""
    found = {}
    for dataset_input in client.get_run(run_id).inputs.dataset_inputs:
        context = next((tag.value for tag in dataset_input.tags if tag.key == "mlflow.data.context"), None)
        if context:
            found[context] = (dataset_input.dataset.name, dataset_input.dataset.digest)
    return found


class CheckpointModels:
    """Makes each checkpoint file sent to a run's artifacts a LoggedModel (see the module).

    Args:
        client: an ``MlflowClient`` of the run's tracking server.
        run_id: the run.
        metrics_of: the metrics the run logged for an epoch (``MlflowMetricsLogger.metrics_at``),
            or None where this process did not log them (they are then not linked).
        interval_s: models are made at most this often.

    Example:

    >>> models = CheckpointModels(client, run_id, logger.metrics_at)
    >>> models.sent("best", "checkpoints/best.keras", epoch=3)  # after the file is uploaded
    >>> models.close()  # makes the models still waiting
    """

    def __init__(
        self,
        client,
        run_id: str,
        metrics_of: Callable[[int], list[Metric] | None],
        interval_s: float = INTERVAL_S,
    ):
        self.client, self.run_id, self.metrics_of = client, run_id, metrics_of
        self.interval_s = interval_s
        self._datasets: dict[str, tuple[str, str]] = {}  # the run's splits, read with its experiment
        self._waiting: dict[str, tuple[str, int]] = {}  # artifact -> (role, epoch)
        self._dropped: list[str] = []
        self._models: dict[str, str] = {}  # artifact -> the model id of the file there now
        # The lists are handed over under _lock, which the uploads' threads take for a moment (the
        # staging thread that places files in a local store is one the loop waits for); the
        # models are made under _making, one making at a time.
        self._lock, self._making = threading.Lock(), threading.Lock()
        self._timer: threading.Timer | None = None
        self._last = time.monotonic()
        self._experiment_id: str | None = None

    def sent(self, role: str, artifact: str, epoch: int) -> None:
        """The checkpoint of ``role`` written at ``epoch`` is now the run's ``artifact``."""
        with self._lock:
            self._waiting[artifact] = (role, epoch)
            self._schedule()

    def dropped(self, artifact: str) -> None:
        """``artifact`` was deleted from the run: so is its model."""
        with self._lock:
            self._waiting.pop(artifact, None)
            self._dropped.append(artifact)
            self._schedule()

    def close(self) -> int:
        """Make the models still waiting, now; return how many were made."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        return self._make()

    def _schedule(self) -> None:
        if self._timer is None:
            delay = max(self._last + self.interval_s - time.monotonic(), 0.0)
            self._timer = threading.Timer(delay, self._on_time)
            self._timer.daemon = True
            self._timer.start()

    def _on_time(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self._make()
        except Exception:  # the run's files are sent regardless; its models are a view of them
            log.warning("mlflow: the run's checkpoints could not be made LoggedModels", exc_info=True)

    def _make(self) -> int:
        with self._making:
            with self._lock:
                waiting, dropped = self._waiting, self._dropped
                self._waiting, self._dropped, self._last = {}, [], time.monotonic()
            if (waiting or dropped) and self._experiment_id is None:
                self._experiment_id = self.client.get_run(self.run_id).info.experiment_id
                self._datasets = run_datasets(self.client, self.run_id)
                self._adopt()
            for artifact in dropped:
                self._delete(artifact)
            for artifact, (role, epoch) in waiting.items():
                self._delete(artifact)
                self._models[artifact] = self._make_one(role, artifact, epoch)
            return len(waiting)

    def _make_one(self, role: str, artifact: str, epoch: int) -> str:
        model = self.client.create_logged_model(
            self._experiment_id,
            name=f"checkpoint-{Path(artifact).stem}",
            source_run_id=self.run_id,
            tags={CHECKPOINT_TAG: role, CHECKPOINT_ARTIFACT_TAG: artifact, MLFLOW_MODEL_IS_EXTERNAL: "true"},
            model_type=CHECKPOINT_MODEL_TYPE,
        )
        self.client.log_outputs(self.run_id, [LoggedModelOutput(model.model_id, step=epoch)])
        metrics = self.metrics_of(epoch)
        if metrics:
            self.client.log_batch(self.run_id, metrics=linked(metrics, model.model_id, self._datasets))
        self.client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
        return model.model_id

    def _adopt(self) -> None:
        """The checkpoint models an earlier process of this run made (a resumed run): replaced
        like this process's own."""
        earlier = self.client.search_logged_models(
            [self._experiment_id],
            filter_string=f"source_run_id = '{self.run_id}' AND tags.`{CHECKPOINT_TAG}` IN ('best', 'last', 'epoch')",
        )
        for model in sorted(earlier, key=lambda m: m.creation_timestamp):
            self._delete(model.tags.get(CHECKPOINT_ARTIFACT_TAG, ""))
            self._models[model.tags.get(CHECKPOINT_ARTIFACT_TAG, "")] = model.model_id

    def _delete(self, artifact: str) -> None:
        model_id = self._models.pop(artifact, None)
        if model_id is not None:
            self.client.delete_logged_model(model_id)


@dataclass(frozen=True)
class FinalModel:
    """What the run's final model is logged from: its ``.keras`` file, its signature and
    requirements, and the user's objects it needs (name -> ``module:Class``) with the files
    that hold their modules."""

    model_file: Path
    signature: object
    requirements: list[str]
    custom_objects: dict[str, str]
    code_paths: list[Path]


def log_final_model(client, run_id: str, final: FinalModel, step: int, tags) -> str:
    """Log the run's final model (named ``model``, so ``runs:/<run id>/model`` reaches it) with
    ``step``: an MLflow pyfunc model from code (``keras_pyfunc.py``) that carries the ``.keras``
    file and the user's modules; return its model id."""
    import json

    import mlflow.pyfunc
    from mlflow.models import Model

    experiment_id = client.get_run(run_id).info.experiment_id
    logged = client.create_logged_model(
        experiment_id, name=LOGGED_MODEL, source_run_id=run_id, tags={CHECKPOINT_TAG: "final", **tags}
    )
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / LOGGED_MODEL
        objects = Path(scratch) / "custom_objects.json"
        objects.write_text(json.dumps(final.custom_objects))
        described = Model(
            artifact_path=logged.artifact_location, model_uuid=logged.model_id, run_id=run_id, model_id=logged.model_id
        )
        mlflow.pyfunc.save_model(
            str(path),
            python_model=str(Path(__file__).with_name("keras_pyfunc.py")),
            artifacts={"model": str(final.model_file), "custom_objects": str(objects)},
            code_paths=[str(code) for code in final.code_paths] or None,
            mlflow_model=described,
            signature=final.signature,
            pip_requirements=final.requirements,
        )
        client.log_model_artifacts(logged.model_id, str(path))
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=step)])
    return logged.model_id
