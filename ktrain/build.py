"""Keras objects from config nodes, by ``hydra.utils.instantiate``; a failure is told as the
user's config, in one paragraph that names the key."""

from pathlib import Path
from typing import Any

import keras
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from ktrain.data import DataSpec
from ktrain.errors import UserError
from ktrain.schema import TrainConfig

# Metric names that Model.compile resolves from the loss, which keras.metrics.get does not know.
COMPILE_ONLY_METRICS = {"acc", "ce", "crossentropy"}
# Callback keys that name a file or folder, whose parent is made before the callback writes.
PATH_KEYS = ("filepath", "filename", "log_dir")


def build(node: dict[str, Any], key: str, **kwargs: Any) -> Any:
    """``instantiate(node, **kwargs)``; a failure is the user's config, reported as one
    paragraph that names ``key`` (Hydra wraps what the target raised, and a builder's own
    ``UserError`` already says what is allowed)."""
    try:
        return instantiate(node, **kwargs, _convert_="all")
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        raise UserError(
            f"{key}: {node.get('_target_')} refused its settings: {type(cause or error).__name__}: "
            f"{cause or error}. Check the {key}.* values (python train.py --cfg job shows them); "
            "the full traceback is in the run's train.log."
        ) from error


def compiled_model(config: TrainConfig, spec: DataSpec, steps_per_epoch: int) -> keras.Model:
    """The model for ``spec``, compiled with the schedule and optimizer of ``config``; call it
    inside the strategy's scope."""
    model = build(config.model, "model", input_shape=spec.input_shape, num_classes=spec.num_classes)
    learning_rate = build(
        config.schedule,
        "schedule",
        learning_rate=float(config.optimizer["learning_rate"]),  # Keras refuses an int rate
        steps_per_epoch=steps_per_epoch,
        epochs=config.fit.epochs,
    )
    optimizer = build(config.optimizer, "optimizer", learning_rate=learning_rate)
    model.compile(optimizer=optimizer, **_compile_settings(config))
    return model


def configured_callbacks(entries: dict[str, dict[str, Any] | None]) -> list[keras.callbacks.Callback]:
    """The configured Keras callbacks, in config order; ``null`` entries are left out."""
    callbacks = []
    for name, entry in entries.items():
        if entry is None:
            continue
        for key in PATH_KEYS:
            if key in entry:
                Path(entry[key]).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(build(entry, f"callbacks.{name}"))
    return callbacks


def _compile_settings(config: TrainConfig) -> dict[str, Any]:
    """``compile.*`` for ``Model.compile``, with loss and metric names checked now: Keras
    itself only looks them up once ``fit`` has started."""
    settings = build(config.compile.model_dump(), "compile")
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
