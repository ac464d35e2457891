"""The contracts between ktrain and what plugs into it, declared in code.

A user implements the first two (their own ``_target_``); a later developer calls or implements
the others. Each is a ``typing.Protocol``: an object fits by having the members, not by
inheriting from anything here.

- ``DataModule``: what a data config builds (``ktrain.data`` has ktrain's own);
- ``ModelBuilder``: what a model config names (``ktrain.models`` has ktrain's own);
- ``Strategy``: where a model is built and trained (``ktrain.distribute.strategy``);
- ``TrackedRun``: what the recipe records a run through (``ktrain.tracking.run``).

This module imports no TensorFlow, Keras or MLflow.
"""

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ktrain.data import DataSpec, Split

if TYPE_CHECKING:
    import keras


@runtime_checkable
class DataModule(Protocol):
    """A data set as a run reads it.

    ``spec`` says what the model and the run need to know (input shape, classes, split sizes);
    ``split(name)`` hands out ``"train"``, ``"val"`` or ``"test"`` as Keras' ``fit`` takes it
    (a ``Split``); ``batch_size`` is the batch of every split. Its config gives ``_target_``
    and ``batch_size``, and whatever else its constructor takes.
    """

    batch_size: int

    @property
    def spec(self) -> DataSpec: ...

    def split(self, name: str) -> Split: ...


class ModelBuilder(Protocol):
    """A callable that returns a ``keras.Model``.

    It is given, of what the run knows, what its signature names: ``input_shape`` and
    ``num_classes`` from the data's spec; and the keys of its config as keyword arguments.
    """

    def __call__(self, **arguments: Any) -> "keras.Model": ...


class Strategy(Protocol):
    """Where a model is built (``scope()``) and over how many replicas each batch is split."""

    num_replicas_in_sync: int

    def scope(self) -> AbstractContextManager: ...


class TrackedRun(Protocol):
    """A run as the recipe records it, from ``with`` to its end: the status it ends with tells
    the truth (FINISHED, FAILED with the reason, or KILLED). ``run_id`` is None where nothing is
    recorded (the other processes of a multi-worker run)."""

    run_id: str | None

    def __enter__(self) -> "TrackedRun": ...

    def __exit__(self, exc_type, exc, tb) -> bool: ...

    def log_params(self, params: dict[str, Any]) -> None: ...

    def logged_params(self) -> dict[str, str]: ...

    def set_tags(self, tags: dict[str, str]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None: ...

    def prepare_model_logging(self) -> None: ...

    def log_keras_model(self, model: "keras.Model", sample_inputs: Any) -> None: ...
