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

from ktrain.data import SPLITS, DataSpec, Split
from ktrain.errors import UserError
from ktrain.tasks import TASKS, task_of

if TYPE_CHECKING:
    import keras


@runtime_checkable
class DataModule(Protocol):
    """A data set as a run reads it.

    ``spec`` says what the model and the run need to know (its inputs, its targets, split
    sizes); ``split(name)`` hands out ``"train"``, ``"val"`` or ``"test"`` in any form Keras'
    ``fit`` takes (a ``Split``: arrays, a ``tf.data.Dataset``, a ``keras.utils.PyDataset``, a
    grain dataset, a generator); ``batch_size`` is the batch of every split. Its config gives ``_target_``
    and ``batch_size``, and whatever else its constructor takes.
    """

    batch_size: int

    @property
    def spec(self) -> DataSpec: ...

    def split(self, name: str) -> Split: ...


def check_data_module(module: Any, target: str) -> None:
    """``UserError`` if ``module``, built by ``target``, lacks a member ``DataModule`` asks for
    (``isinstance`` with a runtime-checkable protocol checks that the members are there)."""
    if isinstance(module, DataModule):
        _check_targets(module.spec.targets, target)
        return
    missing = [name for name in ("spec", "batch_size", "split") if not hasattr(module, name)]
    raise UserError(
        f"data._target_={target} built a {type(module).__name__} without {' and '.join(missing)}, "
        "which a data module must have (ktrain.contracts.DataModule): spec, a ktrain.data.DataSpec "
        "(its input_shape or inputs, its targets, split_sizes; or num_classes, class_names and class_counts "
        "for one class target); batch_size; and split(name), which returns a ktrain.data.Split for 'train', "
        "'val' and 'test'. Add "
        f"{'it' if len(missing) == 1 else 'them'} to the class (README, 'Your own project', has an example)."
    )


def checked_splits(module: DataModule, target: str) -> dict[str, Split]:
    """``module.split(name)`` for train, val and test; ``UserError`` naming the data module if
    one raises or hands out something other than a ``Split`` (Keras would fail on it in ``fit``)."""
    splits = {}
    for name in SPLITS:
        try:
            split = module.split(name)
        except UserError:
            raise
        except Exception as error:
            raise UserError(
                f"data._target_={target}: its split({name!r}) raised {type(error).__name__}: {error}. A data module's "
                "split(name) hands out each of 'train', 'val' and 'test'; the traceback is in the run's train.log."
            ) from error
        if not isinstance(split, Split):
            raise UserError(
                f"data._target_={target}: its split({name!r}) returned a {type(split).__name__}, and a data module's "
                "split(name) returns a ktrain.data.Split: Split(x, y) of arrays, or Split(source) of a "
                "tf.data.Dataset, a keras.utils.PyDataset, a grain dataset or a generator of (x, y) batches."
            )
        splits[name] = split
    return splits


def _check_targets(targets: tuple, data_target: str) -> None:
    """``UserError`` for a target whose kind no task knows, or that lacks what its kind needs."""
    problems = [
        f"the target {t.name!r} is of the kind {t.kind!r}, which no task knows (allowed: {', '.join(TASKS)})"
        if t.kind not in TASKS
        else task_of(t).declaration_problem()
        for t in targets
    ]
    problems = [problem for problem in problems if problem]
    if problems:
        raise UserError(f"data._target_={data_target}: {'; '.join(problems)}.")


class ModelBuilder(Protocol):
    """A callable that returns a ``keras.Model``, one output per target (one output for one
    target; several named after their targets).

    It is given, of what the run knows, what its signature names: ``input_shape`` (one input)
    or ``inputs`` (name -> shape), ``input_dtypes`` (name -> dtype; None names the one input:
    ``"string"`` for text), ``targets`` (a tuple of ``ktrain.tasks.Target``, whose heads
    ``ktrain.tasks.heads`` puts on) and ``num_classes`` (for one target that has classes) from
    the data's spec; ``train_inputs``, the training split's inputs (arrays, or a
    ``tf.data.Dataset`` of their batches) for a layer to adapt on (``TextVectorization``); and
    the keys of its config as keyword arguments.
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

    def log_metrics(self, metrics: dict[str, float], step: int | None = None, model_id: str | None = None) -> None: ...

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None: ...

    def prepare_model_logging(self) -> None: ...

    def log_dataset(self, name: str, context: str, source: str, digest: str, schema: dict, profile: dict) -> None: ...

    def log_keras_model(
        self,
        model: "keras.Model",
        model_file: Path,
        sample_inputs: Any,
        custom_objects=None,
        code_paths=(),
        step: int = 0,
        tags: dict[str, str] | None = None,
    ) -> str | None: ...

    def register_model(self, name: str, model_id: str, alias: str, monitor: str, best: float) -> str | None: ...
