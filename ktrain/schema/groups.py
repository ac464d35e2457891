"""The schemas of the groups whose node is built by ``_target_``: model (``models.py``), optimizer,
schedule, data.

Each group maps the ``_target_`` of ktrain's own builders to the schema of its keyword
arguments; a target ktrain does not know (a user's own model, optimizer or data module) gets
the group's open schema, which needs only ``_target_`` and what the run itself reads.
"""

from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ktrain.data.folders import TEXTS, FolderError, scan, scan_masks
from ktrain.schema.base import (
    KerasTarget,
    NonNegativeFloat,
    NonNegativeInt,
    OpenRate,
    OpenTarget,
    PositiveFloat,
    PositiveInt,
    Rate,
    RateOrAuto,
    RequiredFile,
    Section,
    Targeted,
)
from ktrain.schema.models import MODELS
from ktrain.tasks import TASKS

# --- optimizer ---------------------------------------------------------------------------


class Optimizer(KerasTarget):
    """The values ktrain checks of a Keras optimizer's keywords; the names it takes come from
    Keras (``keywords.py``: ``use_ema``, ``name``, ... need no field here)."""

    learning_rate: RateOrAuto  # auto: the LR range test's suggestion (rules.py)
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
    learning_rate: RateOrAuto


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

    def epoch_problems(self, epochs: int) -> list[str]:
        """What in this schedule cannot happen within ``fit.epochs``."""
        return []


class OpenSchedule(Schedule):
    """A schedule ktrain does not know: taken to vary, its keys its own."""

    model_config = ConfigDict(extra="allow")


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
        return [
            f"schedule.warmup_epochs={self.warmup_epochs:g} leaves no epoch to decay in with "
            f"fit.epochs={epochs}; give warmup_epochs below {epochs}, or raise fit.epochs"
        ]


class OneCycle(Schedule):
    warmup_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.3
    div_factor: Annotated[float, Field(ge=1)] = 25.0
    final_fraction: Rate = 1e-4


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
        return [
            f"schedule.drop_epochs={self.drop_epochs}: the drop at epoch {late[0]} never happens "
            f"with fit.epochs={epochs} (epochs count from 0); give drop epochs below {epochs}, or raise fit.epochs"
        ]


class EpochExponential(Schedule):
    hold_epochs: NonNegativeInt = 10
    decay: PositiveFloat = 0.1

    def epoch_problems(self, epochs: int) -> list[str]:
        if self.hold_epochs < epochs:
            return []
        return [
            f"schedule.hold_epochs={self.hold_epochs} leaves no epoch to decay in with "
            f"fit.epochs={epochs}; give hold_epochs below {epochs}, or raise fit.epochs"
        ]


SCHEDULES = {
    "ktrain.schedules.constant": Constant,
    "ktrain.schedules.cosine": Cosine,
    "ktrain.schedules.warmup_cosine": WarmupCosine,
    "ktrain.schedules.one_cycle": OneCycle,
    "ktrain.schedules.exponential": Exponential,
    "ktrain.schedules.step": Step,
    "ktrain.schedules.epoch_exponential": EpochExponential,
}

# --- data --------------------------------------------------------------------------------


TargetKind = Literal[tuple(TASKS)]


class Data(Targeted):
    """A data module of ktrain's own: its batch, seed and split fractions, and the kinds of its
    targets where they are known before its data are read (``known_targets``)."""

    batch_size: PositiveInt
    seed: NonNegativeInt
    val_fraction: Annotated[float, Field(gt=0, lt=1)]
    test_fraction: Annotated[float, Field(gt=0, lt=1)]

    def known_targets(self) -> dict[str, str] | None:
        """Target name -> kind, where the config tells them; None where only the data do."""
        return {"label": "class"}

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
    path: Annotated[RequiredFile, Field(description="an .npz file")]
    class_names: Annotated[list[str], Field(min_length=1)] | None = None
    target_kind: TargetKind | None = None  # null: guessed from y

    def known_targets(self) -> dict[str, str] | None:
        return {"label": self.target_kind} if self.target_kind else None


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
    masks: str | None = None  # a folder of masks beside the images: segmentation (before path: its check reads it)
    path: Annotated[
        str,
        Field(
            description="a folder holding one subfolder of images per class, or train/ val/ test/ subfolders of those"
        ),
    ]
    image_size: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]
    color_mode: Literal["rgb", "grayscale"] = "rgb"
    augmentation: Augmentation = Augmentation()
    cache: Literal["auto", "memory", "file"] | None = "auto"
    cache_dir: str = "data_cache"
    shuffle_buffer: PositiveInt = 1000
    on_bad_file: Literal["skip", "error"] = "skip"
    class_names: Annotated[list[str], Field(min_length=1)] | None = None  # masks: the pixel classes' names

    @field_validator("path")
    @classmethod
    def _folder(cls, path: str, info: ValidationInfo) -> str:
        try:
            if info.data.get("masks") is None:
                scan(path)
            else:
                scan_masks(path, info.data["masks"])
        except FolderError as error:
            raise ValueError(error.reason) from error
        return path

    def known_targets(self) -> dict[str, str] | None:
        return {"label": "mask" if self.masks else "class"}

    @model_validator(mode="after")
    def _masks_move_with_their_images(self):
        moving = [key for key in ("flip", "rotation", "zoom") if getattr(self.augmentation, key)]
        if self.masks and moving:
            raise ValueError(
                f"augmentation.{moving[0]} would move each image and not its mask; with data.masks only "
                "augmentation.contrast applies, so leave the others null or 0"
            )
        return self


class TextFolder(Data):
    path: Annotated[
        str,
        Field(description="a folder holding one subfolder of .txt files per class, or train/ val/ test/ subfolders"),
    ]
    on_bad_file: Literal["skip", "error"] = "skip"

    @field_validator("path")
    @classmethod
    def _folder(cls, path: str) -> str:
        try:
            scan(path, TEXTS)
        except FolderError as error:
            raise ValueError(error.reason) from error
        return path


class OpenData(OpenTarget):
    batch_size: PositiveInt

    def known_targets(self) -> dict[str, str] | None:
        return None


DATA = {
    "ktrain.data.arrays.DigitsData": Digits,
    "ktrain.data.arrays.NpzData": Npz,
    "ktrain.data.arrays.SyntheticData": Synthetic,
    "ktrain.data.image_folder.ImageFolderData": ImageFolder,
    "ktrain.data.text_folder.TextFolderData": TextFolder,
}

# group -> (the schemas of ktrain's own targets, the schema of any other target)
GROUPS = {
    "model": (MODELS, OpenTarget),
    "optimizer": (OPTIMIZERS, OpenOptimizer),
    "schedule": (SCHEDULES, OpenSchedule),
    "data": (DATA, OpenData),
}
