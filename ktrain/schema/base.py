"""What every schema section shares: strict nodes, ``_target_`` nodes, Keras' keyword
arguments, and the value types."""

import os
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Rate = Annotated[float, Field(ge=0, lt=1)]
OpenRate = Annotated[float, Field(gt=0, lt=1)]
Mode = Literal["min", "max"]
Verbose = Literal["auto", 0, 1, 2]


def _existing_file(path: str | None) -> str | None:
    if path is not None and not os.path.isfile(os.path.expanduser(path)):
        raise ValueError(f"no file at {path!r}; give the path of an existing file")
    return path


def _save_freq(value: Any) -> Any:
    if value == "epoch" or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise ValueError("allowed: 'epoch' or a number of batches >= 1")


def _rate_or_auto(value: float | str) -> float | str:
    if value == "auto" or (not isinstance(value, str) and value > 0):
        return value
    raise ValueError(
        "input should be greater than 0" if not isinstance(value, str) else "allowed: a number > 0, or auto"
    )


RateOrAuto = Annotated[float | str, AfterValidator(_rate_or_auto)]  # auto: the LR range test's suggestion
ExistingFile = Annotated[str | None, AfterValidator(_existing_file)]
RequiredFile = Annotated[str, AfterValidator(_existing_file)]
SaveFreq = Annotated[Any, AfterValidator(_save_freq)]


class Section(BaseModel):
    """A config node: unknown keys and wrongly typed values are refused, nothing is coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class Targeted(Section):
    """A node that ``hydra.utils.instantiate`` turns into an object."""

    target: str = Field(alias="_target_")


class OpenTarget(Targeted):
    """A target ktrain does not know: its keyword arguments are its own business."""

    model_config = ConfigDict(extra="allow")


class KerasKeywords(Section):
    """The keyword arguments of a Keras method (``fit``, ``compile``). The keys typed here are
    those ktrain reads or checks the values of; every other key is checked against the installed
    Keras' own signature (``keywords.py``), so that a new Keras argument needs no change here."""

    model_config = ConfigDict(extra="allow")


class KerasTarget(Targeted):
    """A node built by a Keras class (an optimizer, a callback): typed as ``KerasKeywords``."""

    model_config = ConfigDict(extra="allow")
