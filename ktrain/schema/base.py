"""What every schema section shares: strict, frozen nodes, ``_target_`` nodes, Keras' keyword
arguments, and the value types."""

import os
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

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
    """A config node: unknown keys and wrongly typed values are refused, nothing is coerced,
    and once validated nothing changes it (a derived value is a new node: ``model_copy``).

    It reads like the mapping the YAML wrote, too (``node["learning_rate"]``, ``node == {...}``),
    by the names the YAML uses (``_target_``); ktrain's own code reads attributes."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)

    def values(self) -> dict[str, Any]:
        """The node as plain values, keyed as the YAML writes them: the keys it was given (or
        derived), and for a section of fixed keys its defaults too."""
        return self.model_dump(by_alias=True, exclude_unset=isinstance(self, Targeted))

    def _key_names(self) -> dict[str, str]:
        return {field.alias or name: name for name, field in type(self).model_fields.items()}

    def __getitem__(self, key: str) -> Any:
        name = self._key_names().get(key)
        if name is not None:
            return getattr(self, name)
        extra = self.model_extra or {}
        if key in extra:
            return extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key in self.values()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self.values() == dict(other)
        return super().__eq__(other)

    __hash__ = None  # equal to a mapping, so unhashable like one


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


class FrozenMapping(Mapping):
    """A mapping that cannot change once made (``callbacks``: name -> node); unlike
    ``types.MappingProxyType`` it can be copied and pickled."""

    def __init__(self, items: Mapping[str, Any] | None = None):
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"FrozenMapping({self._items!r})"


def frozen_mapping(value: Mapping[str, Any]) -> FrozenMapping:
    return FrozenMapping(value)


def plain_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    return {key: node.values() if isinstance(node, Section) else node for key, node in value.items()}


def Frozen(item: Any) -> Any:
    """``dict[str, item]``, frozen once validated, dumped as plain values."""
    return Annotated[dict[str, item], AfterValidator(frozen_mapping), PlainSerializer(plain_mapping)]
