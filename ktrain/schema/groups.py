"""The schemas of the groups whose node is built by ``_target_``: model (``models.py``), optimizer,
schedule, data (``data.py``).

Each group maps the ``_target_`` of ktrain's own builders to the schema of its keyword
arguments; a target ktrain does not know (a user's own model, optimizer or data module) gets
the group's open schema, which needs only ``_target_`` and what the run itself reads.
"""

from typing import Annotated, ClassVar

from pydantic import ConfigDict, Field, model_validator

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
    Targeted,
)
from ktrain.schema.data import DATA, OpenData
from ktrain.schema.models import MODELS

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

# group -> (the schemas of ktrain's own targets, the schema of any other target)
GROUPS = {
    "model": (MODELS, OpenTarget),
    "optimizer": (OPTIMIZERS, OpenOptimizer),
    "schedule": (SCHEDULES, OpenSchedule),
    "data": (DATA, OpenData),
}
