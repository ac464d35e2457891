"""Rules across the keys of a config whose every node the schema has passed.

Each rule is whole here: what it refuses (``problems``) and, where it gives way, what it
changes (``changes``, which ``derive.rules_applied`` makes into a new config).
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from ktrain import overrides as command_line
from ktrain.names import command
from ktrain.schema.data import DATA, Table
from ktrain.schema.groups import SCHEDULES
from ktrain.schema.models import MODELS, Backbone, Tabular
from ktrain.schema.run import TrainConfig
from ktrain.tasks import logged_names

DROP = None  # the value of a change that drops a callback

# Callbacks that set the optimizer's learning rate themselves: beside a schedule that varies
# they would fight over it (Keras refuses to set the rate of an optimizer built on a schedule).
RATE_CALLBACKS = ("keras.callbacks.ReduceLROnPlateau", "keras.callbacks.LearningRateScheduler")


def problems(config: TrainConfig, overrides: Sequence[str]) -> list[str]:
    """What the rules refuse in ``config``; ``overrides`` are the command line's."""
    return (
        _monitor_problems(config)
        + _schedule_problems(config, overrides)
        + _fine_tune_problems(config)
        + _auto_rate_problems(config)
        + _register_problems(config)
        + _table_problems(config)
    )


def _table_problems(config: TrainConfig) -> list[str]:
    """A table's columns (strings among them) need a model that takes them; model=tabular
    needs them. Models ktrain does not know are asked once they are built."""
    table, tabular = isinstance(config.data, Table), MODELS.get(config.model.target) is Tabular
    if table and config.model.target in MODELS and not tabular and config.model.target != "ktrain.models.saved.saved":
        return [
            f"data=table hands out a table's columns by name, raw (numbers and strings), and model="
            f"{config.option('model')} takes a single input, not one per column; use model=tabular "
            "(data=table's default), which preprocesses each column inside the model"
        ]
    if tabular and not table and config.data.target in DATA:
        return [
            f"model=tabular takes a table's columns (data=table), and data={config.option('data')} hands out "
            "arrays; use model=mlp or simple_cnn, or data=table"
        ]
    return []


def _register_problems(config: TrainConfig) -> list[str]:
    if config.mlflow.registered_model is None or config.mlflow.log_model:
        return []
    return [
        f"mlflow.register={config.mlflow.registered_model} registers the run's final model, and "
        "mlflow.log_model=false logs none; drop mlflow.register, or log the model (mlflow.log_model=true)"
    ]


class Change(NamedTuple):
    """A value a rule sets (``DROP``: a callback it turns off), and why, for the log."""

    key: str
    value: Any
    reason: str


def changes(config: TrainConfig) -> list[Change]:
    """Where a rule gives way, what it changes: a schedule that varies turns off the
    learning-rate callbacks that the command line did not name (those it named were refused by
    ``problems``); ``fine_tune`` builds the backbone frozen, for its first phase
    (``ktrain.run.fine_tune`` unfreezes it for the second)."""
    found = []
    if config.fine_tune is not None and config.model.get("trainable", True):
        found.append(
            Change(
                "model.trainable",
                False,
                "fine_tune: the backbone is built frozen (model.trainable=false) for the head phase",
            )
        )
    for name in _callbacks_replaced_by_schedule(config):
        found.append(
            Change(
                f"callbacks.{name}",
                DROP,
                f"schedule={config.option('schedule')} sets the learning rate, so callbacks.{name} is off in this run",
            )
        )
    return found


def _monitor_problems(config: TrainConfig) -> list[str]:
    return monitor_problems(config, config.data.known_targets() if hasattr(config.data, "known_targets") else None)


def monitor_problems(config: TrainConfig, kinds: dict[str, str] | None) -> list[str]:
    """Every monitored metric must be a key of Keras' epoch logs for the compiled metrics of
    targets of ``kinds`` (name -> kind; None: not known before the data are read, when the run
    asks again once they are)."""
    metrics = config.compile.metrics
    weighted = config.compile.get("weighted_metrics") or []
    if kinds is None:
        if metrics == "auto":
            return []
        kinds = {"label": "class"}  # an explicit list names one output's keys, whatever its kind
    logged = logged_names(kinds, metrics)
    if logged is None or not isinstance(weighted, list) or not all(isinstance(m, str) for m in weighted):
        return []  # a metric object names its own log key; Keras will tell
    # Keras logs a weighted metric under its name, or as weighted_<name> beside the unweighted one.
    listed = logged[1:] if len(kinds) == 1 else []
    logged += [f"weighted_{m}" if m in listed else m for m in weighted]
    allowed = logged + [f"val_{name}" for name in logged]
    monitored = {"monitor.metric": config.monitor.metric}
    for name, node in config.callbacks.items():
        if node and node.get("monitor", config.monitor.metric) != config.monitor.metric:
            monitored[f"callbacks.{name}.monitor"] = node["monitor"]
    return [
        f"{key}={metric!r} is not logged by this run (allowed: {', '.join(allowed)})"
        for key, metric in monitored.items()
        if metric not in allowed
    ]


def _callbacks_replaced_by_schedule(config: TrainConfig) -> list[str]:
    """The callbacks a schedule that varies replaces: every one in ``RATE_CALLBACKS``, beside
    any schedule but ``constant`` (a schedule ktrain does not know is taken to vary)."""
    if not config.schedule.varies:
        return []
    return [name for name, node in config.callbacks.items() if node and node.target in RATE_CALLBACKS]


def _schedule_problems(config: TrainConfig, overrides: Sequence[str]) -> list[str]:
    """Schedule events beyond ``fit.epochs``; rate callbacks named on the command line."""
    found = config.schedule.epoch_problems(config.fit.epochs)
    for name in _callbacks_replaced_by_schedule(config):
        if _named_on_command_line(f"callbacks.{name}", overrides):
            kind = config.callbacks[name].target.rpartition(".")[2]
            found.append(
                f"schedule={config.option('schedule')} changes the learning rate at every step, and "
                f"callbacks.{name} ({kind}), given on the command line, would change it too; keep one "
                f"of them: add ~callbacks.{name}, or use schedule=constant"
            )
    return found


def _fine_tune_problems(config: TrainConfig) -> list[str]:
    """``fine_tune`` needs a backbone to freeze, a second phase within ``fit.epochs``, and a
    constant schedule: its second phase sets the learning rate itself."""
    plan = config.fine_tune
    if plan is None:
        return []
    found = []
    if MODELS.get(config.model.target) is not Backbone:
        found.append(
            f"fine_tune trains a head on a frozen backbone and then the backbone, but model={config.option('model')} "
            "has no backbone; use a backbone model (model=resnet50, vgg16, mobilenet_v2, efficientnet_b0, or "
            "model=backbone model.architecture=...), or leave fine_tune out"
        )
    first, epochs = config.fit.initial_epoch, config.fit.epochs
    if first + plan.head_epochs >= epochs:
        found.append(
            f"fine_tune.head_epochs={plan.head_epochs} leaves no epoch for the second phase with "
            f"fit.epochs={epochs}"
            + (f" and fit.initial_epoch={first}" if first else "")
            + "; "
            + (f"give head_epochs below {epochs - first}, or " if epochs - first > 1 else "")
            + f"raise fit.epochs to at least {first + plan.head_epochs + 1}"
        )
    if config.schedule.varies:
        found.append(
            f"fine_tune sets the learning rate of its second phase (optimizer.learning_rate times "
            f"fine_tune.learning_rate_factor), which schedule={config.option('schedule')} would fight; use "
            "schedule=constant with fine_tune (reduce_lr may still lower the rate on a plateau)"
        )
    return found


def _named_on_command_line(key: str, overrides: Sequence[str]) -> bool:
    """Whether an override sets ``key`` or a key below it, or lists it as a group option
    (``callbacks=[early_stopping,reduce_lr]``). Deletions (``~key``) do not count."""
    group, _, option = key.rpartition(".")
    return command_line.sets_below(overrides, key) or command_line.names_option(overrides, group, option)


def _auto_rate_problems(config: TrainConfig) -> list[str]:
    """``optimizer.learning_rate=auto`` becomes the base rate of ktrain's own schedules; a
    schedule ktrain does not know may not take a base rate at all (its rates its own)."""
    if config.optimizer.learning_rate != "auto" or config.schedule.target in SCHEDULES:
        return []
    return [
        f"optimizer.learning_rate=auto trains with the LR range test's suggestion as the base rate of "
        f"the schedule, and schedule._target_={config.schedule.target} is not one of ktrain's "
        f"schedules, which take one (allowed: {', '.join(t.rpartition('.')[2] for t in SCHEDULES)}); "
        f"give a number, or run {command('train')} lr_find=true to see the suggestion"
    ]
