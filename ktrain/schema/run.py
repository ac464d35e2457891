"""The top of the two configs, ``train.yaml`` and ``predict.yaml``: the typed, frozen objects
that a validated run reads. The groups built by ``_target_`` (model, optimizer, schedule, data,
callbacks) hold the node of their target's schema (``ktrain.schema.groups``,
``ktrain.schema.callbacks``), or an open node where a user's own ``_target_`` takes its own keys."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr, model_validator

from ktrain.schema.base import (
    Frozen,
    KerasKeywords,
    Mode,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Section,
    Targeted,
    Verbose,
    plain_mapping,
)


def _class_weight(value: Any) -> Any:
    if value is None or value == "balanced":
        return value
    if isinstance(value, dict) and all(
        isinstance(k, int) and isinstance(w, int | float) and w > 0 for k, w in value.items()
    ):
        return value
    raise ValueError("allowed: null, 'balanced', or a mapping {class index: weight > 0}")


def _stop_signal(name: str) -> str:
    import signal

    allowed = ("SIGTERM", "SIGINT", "SIGUSR1", "SIGUSR2", "SIGHUP", "SIGCONT")
    if name not in allowed or not hasattr(signal, name):
        raise ValueError(f"allowed: {', '.join(allowed)} (the signal a scheduler sends before its kill)")
    return name


def _alias(name: str) -> str:
    """A registry alias as MLflow takes one: letters, digits, ``_`` and ``-``; not ``latest``,
    nor ``v`` and a number (MLflow reads those as versions)."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,255}", name) or name.lower() == "latest" or re.fullmatch(r"[vV]\d+", name):
        raise ValueError("allowed: letters, digits, _ and - (not latest, nor v<number>), e.g. champion")
    return name


def _model_name(name: str | None) -> str | None:
    if name is not None and (not name or any(c in name for c in "/:@")):
        raise ValueError(
            "a registered model's name: any text without '/', ':' or '@' (models:/<name>@<alias> reads it)"
        )
    return name


def _predict_input(path: str) -> str:
    if not os.path.exists(os.path.expanduser(path)):
        raise ValueError(
            f"no file or folder at {path!r}; give an image file, a folder of images, a .npy or .npz file, a .txt "
            "file, a folder of them, a .csv file with column= (texts), or a table (.csv, .parquet) of raw rows"
        )
    return path


def _csv_output(path: str) -> str:
    _refuse_a_file_above(path)
    if os.path.isdir(os.path.expanduser(path)):
        raise ValueError("is a folder; give the path of the CSV file to write, e.g. output=predictions.csv")
    return path


def _export_output(path: str) -> str:
    _refuse_a_file_above(path)
    if os.path.isfile(os.path.expanduser(path)):
        raise ValueError("is a file; give a folder, which export makes if missing and writes the model's files into")
    return path


def _refuse_a_file_above(path: str) -> None:
    for parent in Path(os.path.expanduser(path)).parents:
        if parent.is_file():
            raise ValueError(f"{parent} is a file, so nothing can be written beneath it; give a path under a folder")


def group_options(choices: Mapping[str, Any]) -> dict[str, str]:
    """Of Hydra's record of the chosen options (``hydra.runtime.choices``), those of the run's
    own groups that were chosen (``{"model": "simple_cnn", ...}``); Hydra's own groups left out."""
    return {
        group: str(option) for group, option in choices.items() if option is not None and not group.startswith("hydra")
    }


class Monitor(Section):
    metric: str
    mode: Mode


class Fit(KerasKeywords):
    """``Model.fit``'s keywords: those ktrain reads, typed; any other of Keras' signature too."""

    epochs: PositiveInt
    steps_per_epoch: PositiveInt | None = None
    validation_steps: PositiveInt | None = None
    validation_freq: PositiveInt = 1
    initial_epoch: NonNegativeInt = 0
    class_weight: Annotated[Any, AfterValidator(_class_weight)] = None
    verbose: Verbose = "auto"
    shuffle: bool = True

    @model_validator(mode="after")
    def _initial_epoch_before_last(self):
        if self.initial_epoch >= self.epochs:
            raise ValueError(
                f"initial_epoch={self.initial_epoch} leaves nothing to train with "
                f"epochs={self.epochs}; initial_epoch must be below epochs"
            )
        return self


class Evaluate(KerasKeywords):
    """``Model.evaluate``'s keywords for the test split: ``steps`` for a source that never ends
    by itself (a generator); any other of Keras' signature too."""

    steps: PositiveInt | None = None
    verbose: Verbose = 0


class FineTune(Section):
    """The two phases of ``fine_tune=two_phase`` (``ktrain.fine_tune``)."""

    head_epochs: PositiveInt
    unfreeze: Literal["all"] | PositiveInt = "all"
    learning_rate_factor: Annotated[float, Field(gt=0, le=1)] = 0.1


Loss = str | dict[str, Any]
Metrics = list[str | dict[str, Any]]


class Compile(KerasKeywords):
    """``Model.compile``'s keywords: the optimizer comes from the optimizer group. ``loss`` and
    ``metrics`` are ``auto`` (each target's task chooses, ``ktrain.tasks``), one setting for
    every output, or a mapping of output name to one (``auto`` there too), as Keras takes it."""

    loss: Loss | dict[str, Loss] = "auto"
    metrics: Literal["auto"] | Metrics | dict[str, Literal["auto"] | Metrics] = "auto"
    jit_compile: Literal["auto", True, False] = "auto"
    # auto: chosen by measurement when the run starts (hardware.autotune; ktrain.run.autotune)
    steps_per_execution: PositiveInt | Literal["auto"] = 1
    run_eagerly: bool = False


class Hardware(Section):
    device: Literal["cpu", "gpu"]
    strategy: Literal["default", "mirrored", "multi_worker", "multi_host"] = "default"
    cpu_devices: PositiveInt = 1
    visible_devices: list[NonNegativeInt] | None = None
    memory_growth: bool = False
    memory_limit_mb: PositiveInt | None = None
    mixed_precision: Literal["mixed_float16", "mixed_bfloat16", "auto"] | None = None
    jit_compile: Literal["auto", True, False] = "auto"
    # Whether the run's auto execution settings are chosen by timing its first steps
    # (ktrain.run.autotune); false: Keras' defaults. (The default lets an earlier run's
    # config, which set every value, be resumed.)
    autotune: bool = True
    intra_op_threads: NonNegativeInt | None = None
    inter_op_threads: NonNegativeInt | None = None
    deterministic: bool = False
    # hardware=multi_host (ktrain.multi_host): the processes and where they meet
    coordinator_address: str | None = None
    num_processes: PositiveInt | None = None
    process_id: NonNegativeInt | None = None
    initialization_timeout_s: PositiveInt = 60

    @model_validator(mode="after")
    def _cpu_devices_split_the_cpu(self):
        if self.cpu_devices > 1 and self.device != "cpu":
            raise ValueError(
                f"cpu_devices={self.cpu_devices} splits the CPU into logical devices, so it needs "
                f"device=cpu (got device={self.device})"
            )
        return self


class Paths(Section):
    root_dir: str
    output_dir: str


class Mlflow(Section):
    tracking_uri: Annotated[str, Field(min_length=1)]
    experiment_name: Annotated[str, Field(min_length=1)]
    run_name: str | None = None
    log_model: bool = True
    # The defaults let a run saved before these keys existed be resumed.
    checkpoints: Literal["best", "last", "best_and_last", "every", "end"] = "best_and_last"
    keep_checkpoints: PositiveInt = 3
    backup_every_epoch_mb: NonNegativeFloat = 50.0
    backup_interval_s: NonNegativeFloat = 600.0
    system_metrics: bool = True
    # "register" itself would shadow pydantic's (ABCMeta's) register
    registered_model: Annotated[str | None, Field(alias="register"), AfterValidator(_model_name)] = None
    register_alias: Annotated[str, AfterValidator(_alias)] = "champion"


class LrRangeTest(Section):
    """``lr_range_test``: the bounds and pace of ``lr_find`` (``ktrain.lr_find``)."""

    min_lr: PositiveFloat = 1e-7
    max_lr: PositiveFloat = 10.0
    steps: Annotated[int, Field(ge=10)] = 200
    smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.98
    diverge: Annotated[float, Field(gt=1)] = 4.0

    @model_validator(mode="after")
    def _growing(self):
        if self.min_lr >= self.max_lr:
            raise ValueError(f"min_lr={self.min_lr:g} must be below max_lr={self.max_lr:g}")
        return self


class OptunaTrial(Section):
    """The Optuna trial a job of ktrain's Optuna sweeper is (the sweeper sets all three; null
    outside a search): the run reports ``monitor.metric`` to it every epoch, through ``storage``."""

    trial: NonNegativeInt | None = None
    study: str | None = None
    storage: str | None = None

    @model_validator(mode="after")
    def _all_or_none(self):
        given = [v is not None for v in (self.trial, self.study, self.storage)]
        if any(given) and not all(given):
            raise ValueError("trial, study and storage are set together (by the Optuna sweeper), or all null")
        return self


class TrainConfig(Section):
    """A validated training config: what the run reads, and nothing else, once it is made.
    Frozen: a value derived later (``ktrain.schema.derive``) makes a new config.

    Besides the keys of ``train.yaml`` it knows the option chosen in each group (``model``
    -> ``simple_cnn``), as Hydra records it (``hydra.runtime.choices``): ``option``.
    """

    seed: NonNegativeInt
    stop_signal: Annotated[str, AfterValidator(_stop_signal)] = "SIGTERM"
    resume: str | None = None
    monitor: Monitor
    fit: Fit
    compile: Compile
    evaluate: Evaluate = Evaluate()
    paths: Paths
    mlflow: Mlflow
    hardware: Hardware
    model: Targeted
    optimizer: Targeted
    schedule: Targeted
    data: Targeted
    callbacks: Frozen(Targeted | None)
    fine_tune: FineTune | None = None
    lr_find: bool = False
    lr_range_test: LrRangeTest = LrRangeTest()
    optuna: OptunaTrial = OptunaTrial()
    _choices: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def make(cls, values: dict[str, Any], nodes: dict[str, Any], choices: dict[str, str]) -> "TrainConfig":
        """The typed config of ``values``, which the schema has checked, with the groups'
        typed ``nodes`` (``schema_of`` each) and ``choices``."""
        config = cls.model_validate({**values, **nodes})
        config._choices = dict(choices)
        return config

    def option(self, group: str) -> str:
        """The option chosen in ``group`` (``hardware`` -> ``gpu``); its ``_target_`` where
        the config did not come through Hydra's defaults list."""
        node = getattr(self, group, None)
        fallback = node.target if isinstance(node, Targeted) else group
        return self._choices.get(group) or fallback

    def chosen_options(self) -> dict[str, str]:
        """The option of every group that Hydra's defaults list chose (``{"model": "simple_cnn"}``)."""
        return dict(self._choices)

    def values(self) -> dict[str, Any]:
        """The config as plain values, as ``train.yaml`` spells its keys."""
        return {name: _plain(getattr(self, name)) for name in type(self).model_fields}


def _plain(value: Any) -> Any:
    if isinstance(value, Section):
        return value.values()
    if isinstance(value, Mapping):
        return plain_mapping(value)
    return value


class PredictMlflow(Section):
    tracking_uri: Annotated[str, Field(min_length=1)]


class PredictConfig(Section):
    run: Annotated[str, Field(min_length=1)]
    input: Annotated[str, AfterValidator(_predict_input)]
    output: Annotated[str, AfterValidator(_csv_output)] | None = None
    checkpoint: Literal["final", "best"] = "final"
    top_k: PositiveInt = 1
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    masks: str | None = None
    batch_size: PositiveInt = 32
    column: Annotated[str, Field(min_length=1)] | None = None  # with input=<file.csv>: the column of texts
    mlflow: PredictMlflow


def _formats(value: Any) -> Any:
    """``format=onnx`` as ``[onnx]``, ``format='saved_model,onnx'`` as a list too."""
    return [part.strip() for part in value.split(",")] if isinstance(value, str) else value


class ExportConfig(Section):
    run: Annotated[str, Field(min_length=1)]
    format: Annotated[list[Literal["saved_model", "onnx", "litert"]], BeforeValidator(_formats), Field(min_length=1)]
    output: Annotated[str, AfterValidator(_export_output)] | None = None
    checkpoint: Literal["final", "best"] = "final"
    tolerance: PositiveFloat = 1e-4
    mlflow: PredictMlflow


ROOTS = {"train": TrainConfig, "predict": PredictConfig, "export": ExportConfig}
