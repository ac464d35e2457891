"""The config schema: every key a run reads, its type and its allowed values.

``validate`` runs right after Hydra composes the config and before TensorFlow is imported,
so a typo or a bad value stops a run in well under a second, with one paragraph that names
the key, the bad value and what is allowed. Group options are checked by the schema of
their ``_target_``; a target ktrain does not know (a user's own model, optimizer or
callback) only needs ``_target_`` and takes any keyword arguments.
"""

import os
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ktrain.data.folders import FolderError, scan
from ktrain.errors import ConfigError
from ktrain.models import BACKBONES

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Rate = Annotated[float, Field(ge=0, lt=1)]
OpenRate = Annotated[float, Field(gt=0, lt=1)]
Mode = Literal["min", "max"]
Verbose = Literal["auto", 0, 1, 2]


def _predict_input(path: str) -> str:
    if not os.path.exists(os.path.expanduser(path)):
        raise ValueError(f"no file or folder at {path!r}; give an image file, a folder of images or a .npy file")
    return path


def _existing_file(path: str | None) -> str | None:
    if path is not None and not os.path.isfile(os.path.expanduser(path)):
        raise ValueError(f"no file at {path!r}; give the path of an existing file")
    return path


def _class_weight(value: Any) -> Any:
    if value is None or value == "balanced":
        return value
    if isinstance(value, dict) and all(
        isinstance(k, int) and isinstance(w, int | float) and w > 0 for k, w in value.items()
    ):
        return value
    raise ValueError("allowed: null, 'balanced', or a mapping {class index: weight > 0}")


def _save_freq(value: Any) -> Any:
    if value == "epoch" or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise ValueError("allowed: 'epoch' or a number of batches >= 1")


def _image_folder(path: str) -> str:
    try:
        scan(path)
    except FolderError as error:
        raise ValueError(error.reason) from error
    return path


ExistingFile = Annotated[str | None, AfterValidator(_existing_file)]


class Section(BaseModel):
    """A config node: unknown keys and wrongly typed values are refused, nothing is coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class Targeted(Section):
    """A node that ``hydra.utils.instantiate`` turns into an object."""

    target: str = Field(alias="_target_")


class OpenTarget(Targeted):
    """A target ktrain does not know: its keyword arguments are its own business."""

    model_config = ConfigDict(extra="allow")


# --- model -------------------------------------------------------------------------------


class SimpleCNN(Targeted):
    name: str
    filters: Annotated[list[PositiveInt], Field(min_length=1)]
    dense_units: PositiveInt
    dropout: Rate
    preprocessing: Literal["rescale", "none"]


class MLP(Targeted):
    name: str
    hidden_units: Annotated[list[PositiveInt], Field(min_length=1)]
    dropout: Rate
    preprocessing: Literal["rescale", "none"]


class Backbone(Targeted):
    name: str
    architecture: Literal[tuple(BACKBONES)]
    weights: ExistingFile = None
    pooling: Literal["avg", "max"] = "avg"
    dropout: Rate = 0.0
    trainable: bool = True
    preprocessing: Literal["imagenet", "rescale", "none"] = "imagenet"


class OpenModel(OpenTarget):
    name: str


MODELS = {
    "ktrain.models.small.simple_cnn": SimpleCNN,
    "ktrain.models.small.mlp": MLP,
    "ktrain.models.backbone.backbone": Backbone,
}

# --- optimizer ---------------------------------------------------------------------------


class Optimizer(Targeted):
    name: str
    learning_rate: PositiveFloat
    weight_decay: NonNegativeFloat | None = None
    clipnorm: PositiveFloat | None = None
    clipvalue: PositiveFloat | None = None
    global_clipnorm: PositiveFloat | None = None


class Adam(Optimizer):
    beta_1: OpenRate = 0.9
    beta_2: OpenRate = 0.999
    epsilon: PositiveFloat = 1e-7
    amsgrad: bool = False


class SGD(Optimizer):
    momentum: Rate = 0.0
    nesterov: bool = False


class RMSprop(Optimizer):
    rho: OpenRate = 0.9
    momentum: Rate = 0.0
    epsilon: PositiveFloat = 1e-7
    centered: bool = False


class OpenOptimizer(OpenTarget):
    learning_rate: PositiveFloat


OPTIMIZERS = {
    "keras.optimizers.Adam": Adam,
    "keras.optimizers.AdamW": Adam,
    "keras.optimizers.SGD": SGD,
    "keras.optimizers.RMSprop": RMSprop,
}

# --- schedule ----------------------------------------------------------------------------


class Schedule(Targeted):
    """A schedule of ``ktrain.schedules``; ``varies`` says whether it changes the rate."""

    varies: ClassVar[bool] = True
    name: str

    def epoch_problems(self, epochs: int) -> list[str]:
        """What in this schedule cannot happen within ``fit.epochs``."""
        return []


class Constant(Schedule):
    varies: ClassVar[bool] = False


class Cosine(Schedule):
    alpha: Rate = 0.0


class WarmupCosine(Schedule):
    warmup_epochs: PositiveFloat = 1
    alpha: Rate = 0.0

    def epoch_problems(self, epochs: int) -> list[str]:
        if self.warmup_epochs < epochs:
            return []
        return [f"schedule.warmup_epochs={self.warmup_epochs:g} leaves no epoch to decay in with "
                f"fit.epochs={epochs}; give warmup_epochs below {epochs}, or raise fit.epochs"]


class Exponential(Schedule):
    decay_rate: OpenRate = 0.1


class Step(Schedule):
    drop_epochs: Annotated[list[PositiveInt], Field(min_length=1)] = [10, 15]
    factor: OpenRate = 0.1

    @model_validator(mode="after")
    def _ascending(self):
        if any(a >= b for a, b in zip(self.drop_epochs, self.drop_epochs[1:])):
            raise ValueError(f"drop_epochs {self.drop_epochs} must be strictly ascending")
        return self

    def epoch_problems(self, epochs: int) -> list[str]:
        late = [epoch for epoch in self.drop_epochs if epoch >= epochs]
        if not late:
            return []
        return [f"schedule.drop_epochs={self.drop_epochs}: the drop at epoch {late[0]} never happens "
                f"with fit.epochs={epochs} (epochs count from 0); give drop epochs below {epochs}, or raise fit.epochs"]


class EpochExponential(Schedule):
    hold_epochs: NonNegativeInt = 10
    decay: PositiveFloat = 0.1

    def epoch_problems(self, epochs: int) -> list[str]:
        if self.hold_epochs < epochs:
            return []
        return [f"schedule.hold_epochs={self.hold_epochs} leaves no epoch to decay in with "
                f"fit.epochs={epochs}; give hold_epochs below {epochs}, or raise fit.epochs"]


SCHEDULES = {
    "ktrain.schedules.constant": Constant,
    "ktrain.schedules.cosine": Cosine,
    "ktrain.schedules.warmup_cosine": WarmupCosine,
    "ktrain.schedules.exponential": Exponential,
    "ktrain.schedules.step": Step,
    "ktrain.schedules.epoch_exponential": EpochExponential,
}

# --- data --------------------------------------------------------------------------------


class Data(Targeted):
    name: str
    batch_size: PositiveInt
    seed: NonNegativeInt
    val_fraction: Annotated[float, Field(gt=0, lt=1)]
    test_fraction: Annotated[float, Field(gt=0, lt=1)]

    @model_validator(mode="after")
    def _fractions_leave_training_data(self):
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction = {self.val_fraction + self.test_fraction:g} "
                "leaves no training data; their sum must be below 1"
            )
        return self


class Digits(Data):
    pass


class Npz(Data):
    path: Annotated[str, AfterValidator(_existing_file), Field(description="an .npz file")]
    class_names: Annotated[list[str], Field(min_length=2)] | None = None


class Synthetic(Data):
    input_shape: Annotated[list[PositiveInt], Field(min_length=1, max_length=3)]
    num_classes: Annotated[int, Field(ge=2)]
    samples: Annotated[int, Field(ge=10)]


class Augmentation(Section):
    flip: Literal["horizontal", "vertical", "horizontal_and_vertical"] | None = None
    rotation: Rate = 0.0
    zoom: Rate = 0.0
    contrast: Rate = 0.0


class ImageFolder(Data):
    path: Annotated[str, AfterValidator(_image_folder), Field(
        description="a folder holding one subfolder of images per class, or train/ val/ test/ subfolders of those")]
    image_size: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]
    color_mode: Literal["rgb", "grayscale"] = "rgb"
    augmentation: Augmentation = Augmentation()
    cache: Literal["memory", "file"] | None = None
    cache_dir: str = "data_cache"
    shuffle_buffer: PositiveInt = 1000
    on_bad_file: Literal["skip", "error"] = "skip"


class OpenData(OpenTarget):
    batch_size: PositiveInt


DATA = {
    "ktrain.data.arrays.DigitsData": Digits,
    "ktrain.data.arrays.NpzData": Npz,
    "ktrain.data.arrays.SyntheticData": Synthetic,
    "ktrain.data.image_folder.ImageFolderData": ImageFolder,
}

# --- callbacks ---------------------------------------------------------------------------


class EarlyStopping(Targeted):
    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"
    patience: NonNegativeInt = 0
    min_delta: NonNegativeFloat = 0.0
    baseline: float | None = None
    restore_best_weights: bool = False
    start_from_epoch: NonNegativeInt = 0
    verbose: Literal[0, 1] = 0


class ModelCheckpoint(Targeted):
    filepath: str
    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"
    save_best_only: bool = False
    save_weights_only: bool = False
    save_freq: Annotated[Any, AfterValidator(_save_freq)] = "epoch"
    initial_value_threshold: float | None = None
    verbose: Literal[0, 1] = 0

    @model_validator(mode="after")
    def _keras_file_name(self):
        suffix = ".weights.h5" if self.save_weights_only else ".keras"
        if not self.filepath.endswith(suffix):
            raise ValueError(
                f"filepath {self.filepath!r} must end in {suffix!r} "
                f"(save_weights_only={self.save_weights_only})"
            )
        return self


class ReduceLROnPlateau(Targeted):
    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"
    factor: OpenRate = 0.1
    patience: NonNegativeInt = 10
    min_delta: NonNegativeFloat = 1e-4
    cooldown: NonNegativeInt = 0
    min_lr: NonNegativeFloat = 0.0
    verbose: Literal[0, 1] = 0


class CSVLogger(Targeted):
    filename: str
    separator: str = ","
    append: bool = False


class TensorBoard(Targeted):
    log_dir: str = "logs"
    histogram_freq: NonNegativeInt = 0
    write_graph: bool = True
    write_images: bool = False
    write_steps_per_second: bool = False
    update_freq: Annotated[Any, AfterValidator(_save_freq)] = "epoch"
    profile_batch: NonNegativeInt = 0


CALLBACKS = {
    "keras.callbacks.EarlyStopping": EarlyStopping,
    "keras.callbacks.ModelCheckpoint": ModelCheckpoint,
    "keras.callbacks.ReduceLROnPlateau": ReduceLROnPlateau,
    "keras.callbacks.CSVLogger": CSVLogger,
    "keras.callbacks.TensorBoard": TensorBoard,
}

# --- the run -----------------------------------------------------------------------------


class Monitor(Section):
    metric: str
    mode: Mode


class Fit(Section):
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


class Compile(Section):
    loss: str | dict[str, Any]
    metrics: list[str | dict[str, Any]] = []
    jit_compile: Literal["auto", True, False] = "auto"
    steps_per_execution: PositiveInt = 1
    run_eagerly: bool = False


class Hardware(Section):
    name: str
    device: Literal["cpu", "gpu"]
    strategy: Literal["default", "mirrored", "multi_worker"] = "default"
    cpu_devices: PositiveInt = 1
    visible_devices: list[NonNegativeInt] | None = None
    memory_growth: bool = False
    memory_limit_mb: PositiveInt | None = None
    mixed_precision: Literal["mixed_float16", "mixed_bfloat16"] | None = None
    jit_compile: Literal["auto", True, False] = "auto"
    intra_op_threads: NonNegativeInt | None = None
    inter_op_threads: NonNegativeInt | None = None
    deterministic: bool = False

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


class TrainConfig(Section):
    seed: NonNegativeInt
    resume: str | None = None
    monitor: Monitor
    fit: Fit
    compile: Compile
    paths: Paths
    mlflow: Mlflow
    hardware: Hardware
    model: dict[str, Any]
    optimizer: dict[str, Any]
    schedule: dict[str, Any]
    data: dict[str, Any]
    callbacks: dict[str, dict[str, Any] | None]


# --- predict.py --------------------------------------------------------------------------


class PredictMlflow(Section):
    tracking_uri: Annotated[str, Field(min_length=1)]


class PredictConfig(Section):
    run: Annotated[str, Field(min_length=1)]
    input: Annotated[str, AfterValidator(_predict_input)]
    output: str | None = None
    checkpoint: Literal["final", "best"] = "final"
    top_k: PositiveInt = 1
    batch_size: PositiveInt = 32
    mlflow: PredictMlflow


ROOTS = {"train": TrainConfig, "predict": PredictConfig}

GROUPS = {
    "model": (MODELS, OpenModel),
    "optimizer": (OPTIMIZERS, OpenOptimizer),
    "schedule": (SCHEDULES, OpenTarget),
    "data": (DATA, OpenData),
}

# --- validation --------------------------------------------------------------------------


def validate(cfg: DictConfig, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Check a composed training config; return it resolved as plain Python values.

    ``overrides`` are the ones given on the command line (Hydra's task overrides): a callback
    that sets the learning rate is refused beside a schedule that varies when the command
    line names it, and gives way otherwise (``callbacks_replaced_by_schedule``).
    Raises ``ConfigError`` with every problem found, in one paragraph.
    """
    values = _resolve(cfg)
    problems = _problems(TrainConfig, values, prefix="")
    for group, (known, fallback) in GROUPS.items():
        node = values.get(group)
        if isinstance(node, dict):
            schema = known.get(node.get("_target_"), fallback)
            problems += _problems(schema, node, prefix=group)
    callbacks = values.get("callbacks")
    for name, node in (callbacks.items() if isinstance(callbacks, dict) else ()):
        if isinstance(node, dict):
            schema = CALLBACKS.get(node.get("_target_"), OpenTarget)
            problems += _problems(schema, node, prefix=f"callbacks.{name}")
    if not problems:  # cross-key checks read a config whose every node is sound
        problems = _monitor_problems(values) + _schedule_problems(values, overrides)
    if problems:
        raise ConfigError(_paragraph(problems))
    return values


def validate_predict(cfg: DictConfig) -> dict[str, Any]:
    """Check a composed ``predict.py`` config; return it resolved as plain Python values."""
    values = _resolve(cfg)
    problems = _problems(PredictConfig, values, prefix="")
    if problems:
        raise ConfigError(_paragraph(problems))
    return values


def _resolve(cfg: DictConfig) -> dict[str, Any]:
    try:
        values = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or "the config"
        raise ConfigError(f"Invalid config: {key} cannot be resolved: {error.msg}") from error
    return _drop_missing(values)


def _drop_missing(node: Any) -> Any:
    """Remove ``???`` values so that the schema reports them as required keys."""
    if isinstance(node, dict):
        return {k: _drop_missing(v) for k, v in node.items() if v != "???"}
    return node


def _problems(schema: type[BaseModel], node: Any, prefix: str) -> list[str]:
    try:
        schema.model_validate(node)
    except ValidationError as error:
        return [_describe(problem, schema, prefix) for problem in error.errors()]
    return []


def _describe(problem: dict, schema: type[BaseModel], prefix: str) -> str:
    loc = [str(part) for part in problem["loc"]]
    key = ".".join(part for part in (prefix, *loc) if part) or prefix
    kind = problem["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(_keys(schema, loc[:-1]))
        return f"{key} is not a known key (allowed here: {allowed})"
    if kind == "missing":
        return f"{key} is required but has no value; give {key}=<{_description(schema, loc) or 'value'}>"
    message = problem["msg"].removeprefix("Value error, ")
    message = message[0].lower() + message[1:]
    value = problem.get("input")
    if value is None or isinstance(value, dict):  # a check across the keys of a node
        return f"{key}: {message}"
    return f"{key}={value!r}: {message}"


def _description(schema: type[BaseModel], path: list[str]) -> str | None:
    """The ``description`` of the field at ``path`` of ``schema``, if it has one."""
    node = _node(schema, path[:-1])
    field = node.model_fields.get(path[-1]) if node and path else None
    return field.description if field else None


def _keys(schema: type[BaseModel], path: list[str]) -> list[str]:
    """The keys a schema node takes, by the names users write (``_target_``, not ``target``)."""
    node = _node(schema, path)
    return [field.alias or name for name, field in node.model_fields.items()] if node else []


def _node(schema: type[BaseModel], path: list[str]) -> type[BaseModel] | None:
    """The schema of the section at ``path``; None where the path leaves the schema."""
    for part in path:
        field = schema.model_fields.get(part)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        schema = field.annotation
    return schema


def allowed_keys(path: str, config: dict[str, Any], config_name: str = "train") -> tuple[list[str], bool]:
    """The keys the node at ``path`` (dotted; "" for the top) of the composed ``config`` of
    ``config_name`` takes, and whether it also takes others (a target ktrain does not know
    takes any keyword argument)."""
    parts = path.split(".") if path else []
    schema, rest = ROOTS[config_name], parts
    if parts[:1] and parts[0] in GROUPS:
        known, fallback = GROUPS[parts[0]]
        schema, rest = known.get(_target_of(config, parts[:1]), fallback), parts[1:]
    elif parts[:1] == ["callbacks"] and len(parts) > 1:
        schema, rest = CALLBACKS.get(_target_of(config, parts[:2]), OpenTarget), parts[2:]
    return _keys(schema, rest), not rest and schema.model_config.get("extra") == "allow"


def _target_of(config: dict[str, Any], parts: list[str]) -> str | None:
    node: Any = config
    for part in parts:
        node = node.get(part) if isinstance(node, dict) else None
    return node.get("_target_") if isinstance(node, dict) else None


def _monitor_problems(values: dict[str, Any]) -> list[str]:
    """Every monitored metric must be a key of Keras' epoch logs for the compiled metrics."""
    metrics = values["compile"]["metrics"]
    if not all(isinstance(m, str) for m in metrics):
        return []  # a metric object names its own log key; Keras will tell
    logged = ["loss", *metrics]
    allowed = logged + [f"val_{name}" for name in logged]
    monitored = {"monitor.metric": values["monitor"]["metric"]}
    for name, node in values["callbacks"].items():
        if node and node.get("monitor", monitored["monitor.metric"]) != monitored["monitor.metric"]:
            monitored[f"callbacks.{name}.monitor"] = node["monitor"]
    return [
        f"{key}={metric!r} is not logged by this run (allowed: {', '.join(allowed)})"
        for key, metric in monitored.items()
        if metric not in allowed
    ]


# Callbacks that set the optimizer's learning rate themselves: beside a schedule that varies
# they would fight over it (Keras refuses to set the rate of an optimizer built on a schedule).
RATE_CALLBACKS = ("keras.callbacks.ReduceLROnPlateau", "keras.callbacks.LearningRateScheduler")


def callbacks_replaced_by_schedule(values: dict[str, Any]) -> list[str]:
    """The callbacks a schedule that varies replaces: every one in ``RATE_CALLBACKS``, beside
    any schedule but ``constant`` (a schedule ktrain does not know is taken to vary)."""
    schema = SCHEDULES.get(values["schedule"].get("_target_"))
    if schema is not None and not schema.varies:
        return []
    return [
        name for name, node in values["callbacks"].items()
        if node and node.get("_target_") in RATE_CALLBACKS
    ]


def _schedule_problems(values: dict[str, Any], overrides: Sequence[str]) -> list[str]:
    """Schedule events beyond ``fit.epochs``; rate callbacks named on the command line."""
    node = values["schedule"]
    schema = SCHEDULES.get(node.get("_target_"))
    problems = schema.model_validate(node).epoch_problems(values["fit"]["epochs"]) if schema else []
    option = node.get("name", node.get("_target_"))
    for name in callbacks_replaced_by_schedule(values):
        if _named_on_command_line(f"callbacks.{name}", overrides):
            kind = values["callbacks"][name]["_target_"].rpartition(".")[2]
            problems.append(
                f"schedule={option} changes the learning rate at every step, and callbacks.{name} "
                f"({kind}), given on the command line, would change it too; keep one of them: "
                f"add ~callbacks.{name}, or use schedule=constant"
            )
    return problems


def _named_on_command_line(key: str, overrides: Sequence[str]) -> bool:
    """Whether an override sets ``key`` or a key below it, or lists it as a group option
    (``callbacks=[early_stopping,reduce_lr]``). Deletions (``~key``) do not count."""
    group, _, option = key.rpartition(".")
    for override in overrides:
        if override.startswith("~"):
            continue
        name, _, value = override.lstrip("+").partition("=")
        if name == key or name.startswith(f"{key}."):
            return True
        if name == group and option in value.strip("[]").replace(" ", "").split(","):
            return True
    return False


def _paragraph(problems: list[str]) -> str:
    return "Invalid config: " + "; ".join(problems) + "."
