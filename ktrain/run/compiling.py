"""The model built for the data's targets and compiled: the schedule and optimizer, and the loss
and metrics of each target's task (``compile.loss=auto``, ``compile.metrics=auto``) or as given,
a user's own losses and metrics among them."""

import inspect
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import keras
from hydra.utils import get_object

from ktrain import tasks
from ktrain.data import CLASSES, DataSpec
from ktrain.errors import UserError
from ktrain.models.text import takes_text
from ktrain.run.build import build, model_node
from ktrain.schema import TrainConfig
from ktrain.schema.keywords import suggestion
from ktrain.tasks import Target

# ktrain's builders whose models take numbers (pixels, arrays), refused text before they are built.
NUMBER_MODELS = (
    "ktrain.models.small.simple_cnn",
    "ktrain.models.small.mlp",
    "ktrain.models.backbone.backbone",
    "ktrain.models.unet.unet",
)
# Metric names that Model.compile resolves from the loss, which keras.metrics.get does not know.
COMPILE_ONLY_METRICS = {"acc", "ce", "crossentropy"}


def compiled_model(
    config: TrainConfig, spec: DataSpec, steps_per_epoch: int, train_inputs: Callable[[], Any] = lambda: None
) -> keras.Model:
    """The model for ``spec``, compiled with the schedule and optimizer of ``config``; call it
    inside the strategy's scope. ``train_inputs`` gives the training split's inputs, for a builder
    that names them (a layer adapted on them: ``TextVectorization``)."""
    node = model_node(config)
    offered = _offered(spec)
    if _names(node["_target_"], "train_inputs"):
        offered["train_inputs"] = train_inputs()
    _refuse_unoffered(node["_target_"], offered, spec.targets)
    _refuse_numbers_model(config, node["_target_"], spec)
    _refuse_columns_untaken(config.option("model"), node["_target_"], spec)
    model = build(node, "model", **offered)
    if not isinstance(model, keras.Model):
        raise UserError(
            f"model._target_={config.model.target} returned a {type(model).__name__}, not a "
            "keras.Model. A model builder is any callable that returns a keras.Model; it is given "
            "input_shape and num_classes (or targets, inputs) from the data if its signature names "
            "them, and its own keys of the model config."
        )
    _refuse_numbers_model(config, node["_target_"], spec, model)
    problems = tasks.head_problems(model.output_shape, model.output_names, spec.targets)
    if problems:
        guessed = hasattr(config.data, "target_kind")  # data=npz and data=table guess the kind
        raise UserError(
            f"model._target_={config.model.target} does not fit the data: {'; '.join(problems)}. Build one "
            "output per target, shaped as its task takes it (ktrain's builders do, from the targets they are "
            "given: name `targets` in your builder's signature and pass them to ktrain.tasks.heads)"
            + (", or give data.target_kind= if the data's kind was guessed wrongly." if guessed else ".")
        )
    learning_rate = build(
        config.schedule,
        "schedule",
        learning_rate=float(config.optimizer.learning_rate),  # Keras refuses an int rate
        steps_per_epoch=steps_per_epoch,
        epochs=config.fit.epochs,
    )
    optimizer = build(config.optimizer, "optimizer", learning_rate=learning_rate)
    model.compile(optimizer=optimizer, **compile_settings(config, spec.targets))
    return model


def recompile(model: keras.Model, config: TrainConfig, targets: Sequence[Target], learning_rate: float) -> None:
    """Compile ``model`` again, with a new optimizer of ``config`` at the constant rate
    ``learning_rate``: after a change of which weights train, as Keras needs (a built optimizer
    knows only the variables it was built for). Call it inside the strategy's scope."""
    optimizer = build(config.optimizer, "optimizer", learning_rate=float(learning_rate))
    model.compile(optimizer=optimizer, **compile_settings(config, targets))


def compile_settings(config: TrainConfig, targets: Sequence[Target]) -> dict[str, Any]:
    """``compile.*`` for ``Model.compile``: the tasks' loss and metrics where they are ``auto``,
    a user's objects found, and names checked now (Keras itself only looks them up once
    ``fit`` has started)."""
    values = config.compile.values()
    settings = build({k: v for k, v in values.items() if k not in ("loss", "metrics")}, "compile")
    settings["loss"] = _objects(tasks.losses(targets, values["loss"]), "compile.loss", "loss")
    settings["metrics"] = _objects(tasks.metrics(targets, values["metrics"]), "compile.metrics", "metric")
    unknown = _unknown_names(settings)
    if unknown:
        raise UserError(
            "; ".join(unknown) + ". Give names that keras.losses.get and keras.metrics.get know "
            "(for example compile.loss=sparse_categorical_crossentropy compile.metrics=[accuracy]), "
            "auto (the task's own), a dotted path to your own function or class (mymodule.my_loss), "
            "or a {_target_: ...} mapping to a loss or metric class."
        )
    return settings


def _offered(spec: DataSpec) -> dict[str, Any]:
    """What the run offers a model builder: the data's inputs (their shapes and dtypes) and
    targets; ``num_classes`` for one target that has classes; a table's ``columns``."""
    offered = {
        "input_shape": spec.input_shape,
        "inputs": spec.inputs,
        "input_dtypes": spec.input_dtypes,
        "targets": spec.targets,
    }
    if spec.columns:
        offered["columns"] = spec.columns
    if len(spec.targets) == 1 and spec.targets[0].kind in CLASSES:
        offered["num_classes"] = len(spec.targets[0].classes)
    return offered


def _refuse_numbers_model(config: TrainConfig, target: str, spec: DataSpec, model: keras.Model | None = None) -> None:
    """Text data (strings) given to a model that takes numbers: ktrain's own image and array
    models before they are built, any other once built."""
    if "string" not in spec.input_dtypes.values():
        return
    if model is None and target not in NUMBER_MODELS:
        return
    if model is not None and takes_text(model):
        return
    option = config.option("model")
    named = f"model={option}" if option != target and "." not in option else f"model._target_={target}"
    raise UserError(
        f"{named} takes numbers, and the data are text (one string per sample). Use model=text_cnn, "
        "or model=keras_hub with a text classifier's preset, or a builder of your own whose model takes strings "
        "(keras.Input(shape=(), dtype='string'), then a TextVectorization layer)."
    )


def _parameters(target: str) -> Mapping[str, inspect.Parameter]:
    """The parameters of the builder ``target`` names; none where it cannot be read."""
    try:
        return inspect.signature(get_object(target)).parameters
    except (ImportError, AttributeError, ValueError, TypeError):
        return {}


def _names(target: str, name: str) -> bool:
    return name in _parameters(target)


def _refuse_unoffered(target: str, offered: dict[str, Any], targets: Sequence[Target]) -> None:
    """A builder that needs ``num_classes`` where the data have none to give."""
    needed = _parameters(target).get("num_classes")
    if needed is None or "num_classes" in offered or needed.default is not inspect.Parameter.empty:
        return
    kinds = ", ".join(f"{t.name} ({t.kind})" for t in targets)
    raise UserError(
        f"model._target_={target} needs num_classes, which the data give for one target with classes, and "
        f"their targets are {kinds}. Name `targets` in its signature instead (a tuple of ktrain.tasks.Target) "
        "and put a head on for each (ktrain.tasks.heads does)."
    )


def _refuse_columns_untaken(option: str, target: str, spec: DataSpec) -> None:
    """A builder that does not take a table's ``columns`` would build float inputs for its
    strings, and fail inside ``fit``."""
    if not spec.columns:
        return
    parameters = _parameters(target)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if not parameters or "columns" in parameters or takes_any:
        return
    raise UserError(
        f"model={option} ({target}) does not take a table's columns, which data=table hands out: one raw "
        "value per row of each column (numbers and strings), preprocessed inside the model. Use "
        "model=tabular, or name `columns` in your builder's signature (ktrain.data.Column: name, kind, "
        "sample) and build their inputs with ktrain.models.tabular.encoded_columns."
    )


def _objects(setting: Any, key: str, kind: str) -> Any:
    """A loss or metrics setting with a user's objects in it: a dotted path is the function or
    class it names (a class made with no arguments), a ``{_target_: ...}`` mapping the class
    made with its keys, or the function itself (wrapped with its keys, if any, so that a saved
    model still names it); per-output mappings and lists hold such settings."""
    if isinstance(setting, list):
        return [_objects(item, f"{key}.{i}", kind) for i, item in enumerate(setting)]
    if isinstance(setting, Mapping) and "_target_" not in setting:
        return {name: _objects(value, f"{key}.{name}", kind) for name, value in setting.items()}
    if isinstance(setting, Mapping):
        found = _imported(setting["_target_"], key)
        arguments = {k: v for k, v in setting.items() if k != "_target_"}
        if inspect.isclass(found):
            return build(setting, key)
        if not arguments:
            return found
        # Keras exports MeanMetricWrapper but not its loss twin, which saves and loads the same way.
        from keras.src.losses.losses import LossFunctionWrapper

        wrapper = LossFunctionWrapper if kind == "loss" else keras.metrics.MeanMetricWrapper
        return wrapper(found, name=found.__name__, **arguments)
    if isinstance(setting, str) and "." in setting:
        found = _imported(setting, key)
        return found() if inspect.isclass(found) else found
    return setting


def _imported(path: str, key: str) -> Any:
    # pkgutil's resolver, not Hydra's get_object: that one logs the error before raising it, and
    # its message reads "'mymodule' is not a package" for a name the module lacks.
    try:
        return pkgutil.resolve_name(path)
    except (ImportError, AttributeError, ValueError) as error:
        raise UserError(
            f"{key}={path} cannot be imported ({error}). A loss or metric is a Keras name, auto, or a "
            "dotted path to a function or class: an installed package's, or one of your modules in the "
            "current directory (or beside the folder --config-dir names)."
        ) from error


def _unknown_names(settings: dict[str, Any]) -> list[str]:
    unknown = []
    losses = settings["loss"].values() if isinstance(settings["loss"], dict) else [settings["loss"]]
    for loss in losses:
        if isinstance(loss, str):
            try:
                keras.losses.get(loss)
            except ValueError:
                unknown.append(f"compile.loss={loss} is not a Keras loss{_did_you_mean(loss, keras.losses)}")
    for key in ("metrics", "weighted_metrics"):
        given = settings.get(key)
        lists = given.values() if isinstance(given, dict) else [given] if isinstance(given, list) else []
        for metric in (m for names in lists for m in (names if isinstance(names, list) else [names])):
            if isinstance(metric, str) and metric.lower() not in COMPILE_ONLY_METRICS:
                try:
                    keras.metrics.get(metric)
                except ValueError:
                    near = _did_you_mean(metric, keras.metrics, {"accuracy", *COMPILE_ONLY_METRICS})  # by name only
                    unknown.append(f"compile.{key} has {metric}, which is not a Keras metric{near}")
    return unknown


def _did_you_mean(name: str, module: Any, more: Iterable[str] = ()) -> str:
    """`` (did you mean huber?)`` for a name near one of ``module``'s functions or ``more``, else nothing."""
    near = suggestion(name.lower(), [n for n in dir(module) if n.islower() and not n.startswith("_")] + [*more])
    return f" (did you mean {near}?)" if near else ""
