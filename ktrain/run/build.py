"""Keras objects from config nodes, by ``hydra.utils.instantiate``; a failure is told as the
user's config, in one paragraph that names the key."""

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate

from ktrain.data import DataSpec
from ktrain.errors import UserError
from ktrain.names import command
from ktrain.schema import TrainConfig
from ktrain.schema.base import Section
from ktrain.tracking.locate import locate_run

SAVED_MODEL = "ktrain.models.saved.saved"
# Metric names that Model.compile resolves from the loss, which keras.metrics.get does not know.
COMPILE_ONLY_METRICS = {"acc", "ce", "crossentropy"}
# Callback keys that name a file or folder, whose parent is made before the callback writes.
PATH_KEYS = ("filepath", "filename", "log_dir")


def build(node: Section | Mapping[str, Any], key: str, **offered: Any) -> Any:
    """``instantiate(node, **offered)``, each offered argument passed only if the target's
    signature names it (or takes ``**kwargs``): a builder takes what it needs of what the run
    knows, and nothing else is required of it. A failure is the user's config, reported as one
    paragraph that names ``key`` (Hydra wraps what the target raised, and a builder's own
    ``UserError`` already says what is allowed)."""
    node = node.values() if isinstance(node, Section) else dict(node)
    try:
        return instantiate(node, **_named_by_target(node, offered), _convert_="all")
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        if isinstance(cause, ImportError):
            reason = " ".join(str(cause).split()).rstrip(".")
            raise UserError(
                f"{key}._target_={node.get('_target_')} cannot be imported: {reason}. "
                "A _target_ is a dotted path to a class or function on the Python path: ktrain's own, "
                "an installed package's, or one of your modules in the current directory (or beside "
                "the folder --config-dir names)."
            ) from error
        raise UserError(
            f"{key}: {node.get('_target_')} refused its settings: {type(cause or error).__name__}: "
            f"{cause or error}. Check the {key}.* values ({command('train')} --cfg job shows them); "
            "the full traceback is in the run's train.log."
        ) from error


def _named_by_target(node: dict[str, Any], offered: dict[str, Any]) -> dict[str, Any]:
    """Of ``offered``, what the callable named by ``node["_target_"]`` takes; all of it where
    its signature cannot be read (Hydra then reports what goes wrong)."""
    if not offered or "_target_" not in node:
        return offered
    try:
        parameters = inspect.signature(get_object(node["_target_"])).parameters.values()
    except (ImportError, AttributeError, ValueError, TypeError):
        return offered
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return offered
    names = {p.name for p in parameters}
    return {name: value for name, value in offered.items() if name in names}


def compiled_model(config: TrainConfig, spec: DataSpec, steps_per_epoch: int) -> keras.Model:
    """The model for ``spec``, compiled with the schedule and optimizer of ``config``; call it
    inside the strategy's scope."""
    model = build(_model_node(config), "model", input_shape=spec.input_shape, num_classes=spec.num_classes)
    if not isinstance(model, keras.Model):
        raise UserError(
            f"model._target_={config.model.target} returned a {type(model).__name__}, not a "
            "keras.Model. A model builder is any callable that returns a keras.Model; it is given "
            "input_shape and num_classes (from the data) if its signature names them, and its own "
            "keys of the model config."
        )
    learning_rate = build(
        config.schedule,
        "schedule",
        learning_rate=float(config.optimizer.learning_rate),  # Keras refuses an int rate
        steps_per_epoch=steps_per_epoch,
        epochs=config.fit.epochs,
    )
    optimizer = build(config.optimizer, "optimizer", learning_rate=learning_rate)
    model.compile(optimizer=optimizer, **_compile_settings(config))
    return model


def recompile(model: keras.Model, config: TrainConfig, learning_rate: float) -> None:
    """Compile ``model`` again, with a new optimizer of ``config`` at the constant rate
    ``learning_rate``: after a change of which weights train, as Keras needs (a built optimizer
    knows only the variables it was built for). Call it inside the strategy's scope."""
    optimizer = build(config.optimizer, "optimizer", learning_rate=float(learning_rate))
    model.compile(optimizer=optimizer, **_compile_settings(config))


def _model_node(config: TrainConfig) -> dict[str, Any]:
    """The model config; for ``model=saved``, a ``from_run`` becomes the ``path`` of that run's
    final model (from its run dir, or downloaded from MLflow into this run's dir)."""
    node = config.model.values()
    if node["_target_"] != SAVED_MODEL:
        return node
    run = node.pop("from_run", None)
    if run is not None:
        downloads = Path(config.paths.output_dir) / "from_run"
        files = locate_run(run, "final", config.mlflow.tracking_uri, downloads, key="model.from_run")
        node["path"] = str(files.model)
    return node


def configured_callbacks(entries: Mapping[str, Section | None]) -> list[keras.callbacks.Callback]:
    """The configured Keras callbacks, in config order; ``null`` entries are left out."""
    callbacks = []
    for name, entry in entries.items():
        if entry is None:
            continue
        for key in PATH_KEYS:
            if entry.get(key) is not None:
                Path(entry[key]).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(build(entry, f"callbacks.{name}"))
    return callbacks


def _compile_settings(config: TrainConfig) -> dict[str, Any]:
    """``compile.*`` for ``Model.compile``, with loss and metric names checked now: Keras
    itself only looks them up once ``fit`` has started."""
    settings = build(config.compile, "compile")
    unknown = []
    if isinstance(settings.get("loss"), str):
        try:
            keras.losses.get(settings["loss"])
        except ValueError:
            unknown.append(f"compile.loss={settings['loss']} is not a Keras loss")
    for key in ("metrics", "weighted_metrics"):
        names = settings.get(key) if isinstance(settings.get(key), list) else []
        for metric in names:
            if isinstance(metric, str) and metric.lower() not in COMPILE_ONLY_METRICS:
                try:
                    keras.metrics.get(metric)
                except ValueError:
                    unknown.append(f"compile.{key} has {metric}, which is not a Keras metric")
    if unknown:
        raise UserError(
            "; ".join(unknown) + ". Give names that keras.losses.get and keras.metrics.get know "
            "(for example compile.loss=sparse_categorical_crossentropy compile.metrics=[accuracy]), "
            "or a {_target_: ...} mapping to a loss or metric class."
        )
    return settings
