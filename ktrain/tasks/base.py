"""What a task owns, and the tasks by kind.

A task is the behaviour of one kind of target, in one place, as Ludwig's output features and
KerasHub's task heads are: its head (units, activation, float32 under mixed precision), its
default loss and metrics and the losses that fit it, how a split is stratified, what
``fit.class_weight=balanced`` means, how a data set's values become the ``Target`` the run
records, and how predictions are decoded. Each kind's task registers itself where it is
defined (``@register``).

No Keras at import: data modules read targets without TensorFlow; the head and the metrics
import Keras when they are built.
"""

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ktrain.errors import UserError
from ktrain.tasks.target import Target

TASKS: dict[str, type["Task"]] = {}

# Keras' losses by what they take, to tell a loss that does not fit a target (a loss not listed,
# such as a user's own, is not checked).
LOSS_FAMILIES = {
    "class index": ("sparse_categorical_crossentropy",),
    "one-hot rows": (
        "categorical_crossentropy",
        "categorical_focal_crossentropy",
        "categorical_hinge",
        "kl_divergence",
    ),
    "0/1 labels": ("binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"),
    "numbers": (
        "mean_squared_error",
        "mean_absolute_error",
        "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error",
        "huber",
        "log_cosh",
        "poisson",
        "cosine_similarity",
    ),
}
LOSS_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
                "msle": "mean_squared_logarithmic_error", "logcosh": "log_cosh", "kld": "kl_divergence",
                "kullback_leibler_divergence": "kl_divergence"}  # fmt: skip


def register(kind: str):
    """Register the decorated ``Task`` subclass as the task of ``kind``."""

    def decorate(cls: type["Task"]) -> type["Task"]:
        cls.kind = kind
        TASKS[kind] = cls
        return cls

    return decorate


def task_of(target: Target) -> "Task":
    """The task of ``target``'s kind."""
    if target.kind not in TASKS:
        raise UserError(
            f"the target {target.name!r} is of the kind {target.kind!r}, which no task knows; "
            f"allowed: {', '.join(TASKS)}."
        )
    return TASKS[target.kind](target)


@dataclass(frozen=True)
class Decoding:
    """How predictions become labels: ``top_k`` classes per row, ``threshold`` for a label."""

    top_k: int = 1
    threshold: float = 0.5


class Task:
    """The behaviour of one kind of target; ``self.target`` is the target it serves.

    A subclass sets ``loss_name`` (the default loss), ``losses`` (the family of Keras losses
    that fit it, a key of ``LOSS_FAMILIES``), ``metric_names`` (its default metrics, as Keras
    logs them), ``activation``, and ``stratified`` (whether a split keeps its proportions).
    """

    kind: ClassVar[str]
    loss_name: ClassVar[str]
    losses: ClassVar[str]
    metric_names: ClassVar[tuple[str, ...]]
    activation: ClassVar[str | None]
    stratified: ClassVar[bool] = False
    fewest_classes: ClassVar[int] = 0  # the class names a target of this kind declares, at least
    most_classes: ClassVar[int | None] = None
    weighted: ClassVar[bool] = False  # fit.class_weight applies: Keras weighs a sample by its class index

    def __init__(self, target: Target):
        self.target = target

    def declaration_problem(self) -> str | None:
        """What a data module's ``Target`` of this kind lacks (its classes), or None."""
        count, fewest, most = len(self.target.classes), self.fewest_classes, self.most_classes
        if count >= fewest and (most is None or count <= most):
            return None
        wanted = f"{fewest}" if most == fewest else f"{fewest} at least"
        return (
            f"the {self.kind} target {self.target.name!r} declares {count} class name(s), and a {self.kind} "
            f"target names {wanted}: Target({self.target.name!r}, {self.kind!r}, classes=(...), counts=(...)), "
            f"its {'labels' if self.kind == 'multi_label' else 'class names'} and the training samples of each"
        )

    # --- the data ------------------------------------------------------------------------

    @classmethod
    def from_values(
        cls, name: str, splits: dict[str, np.ndarray], names=None, where: str = "the data"
    ) -> tuple[Target, dict[str, np.ndarray]]:
        """The ``Target`` that the values of each split (train, val, test) make, with ``names``
        (class names, or a number target's column names) if given; and the values as the model
        takes them. ``UserError`` naming ``where`` if they are not values of this kind."""
        raise NotImplementedError

    @classmethod
    def stratify(cls, values: np.ndarray) -> np.ndarray | None:
        """The labels of a data set's values (as given) that a split keeps the proportions of;
        None: split at random."""
        return values if cls.stratified else None

    def class_weights(self, setting: str | dict) -> dict[int, float]:
        """``fit.class_weight``: ``balanced`` (n / (classes * count) per class), or a mapping
        {class index: weight} where a class left out weighs 1. Every class gets its weight:
        Keras looks a sample's class up in a table as long as the largest index given."""
        target = self.target
        if not self.weighted:
            raise UserError(
                f"fit.class_weight weighs the classes of a class or binary target, and the target "
                f"{target.name!r} is {target.kind}; leave fit.class_weight null."
            )
        count = len(target.classes)
        if setting == "balanced":
            total = sum(target.counts)
            return {i: total / (count * n) if n else 1.0 for i, n in enumerate(target.counts)}
        outside = sorted(index for index in setting if not 0 <= index < count)
        if outside:
            shown = ", ".join(f"{i} ({name})" for i, name in enumerate(target.classes[:4]))
            raise UserError(
                f"fit.class_weight weighs class index {', '.join(map(str, outside))}, and the target "
                f"{target.name!r} has {count} classes, indices 0 to {count - 1}: {shown}"
                f"{', ...' if count > 4 else ''}. Weigh those indices; a class left out weighs 1."
            )
        return {index: float(setting.get(index, 1.0)) for index in range(count)}

    # --- the model -----------------------------------------------------------------------

    def units(self) -> int:
        return int(np.prod(self.target.shape[-1:] or (1,)))

    def output_shape(self) -> tuple[int, ...]:
        """One sample's output of the model's head."""
        return (self.units(),)

    def head(self, features, name: str):
        """The output layer for ``features``: float32 even under mixed precision."""
        from keras import layers

        return layers.Dense(self.units(), activation=self.activation, dtype="float32", name=name)(features)

    def head_problem(self, shape: tuple) -> str | None:
        """What is wrong with a model output of ``shape`` (batch axis first) for this target."""
        expected = self.output_shape()
        if tuple(shape[1:]) == expected:
            return None
        return (
            f"the model's output for the target {self.target.name!r} ({self.kind}) is shaped "
            f"{tuple(shape[1:])} per sample, where it takes {expected}"
        )

    # --- compile -------------------------------------------------------------------------

    def loss(self) -> Any:
        return self.loss_name

    def metrics(self) -> list:
        """The default metrics, as Keras objects or names (``metric_names`` as they are logged)."""
        return list(self.metric_names)

    def loss_problem(self, loss: Any) -> str | None:
        """Why ``loss`` (a name or a ``{_target_: ...}`` mapping) does not fit this target, or
        None (also for a loss not in ``LOSS_FAMILIES``, such as a user's own)."""
        name = loss_name(loss)
        family = next((family for family, names in LOSS_FAMILIES.items() if name in names), None)
        if family is None or family == self.losses:
            return None
        others = [other for other in LOSS_FAMILIES[self.losses] if other != self.loss_name]
        return (
            f"{name} takes {family}, and the target {self.target.name!r} is {self.kind} ({self.losses}); "
            f"use {self.loss_name} (compile.loss=auto chooses it)" + (f" or {', '.join(others)}" if others else "")
        )

    # --- predictions ---------------------------------------------------------------------

    def decode(self, outputs: np.ndarray, decoding: Decoding) -> dict[str, list]:
        """The columns of the prediction table for ``outputs`` (one row per sample)."""
        raise NotImplementedError


def loss_name(loss: Any) -> str | None:
    """The snake_case name of a Keras loss given as a name or a ``{_target_: keras.losses.X}``."""
    if isinstance(loss, dict):
        target = str(loss.get("_target_", ""))
        if not target.startswith("keras.losses."):
            return None
        loss = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", target.rpartition(".")[2]).lower()
    if not isinstance(loss, str):
        return None
    return LOSS_ALIASES.get(loss.lower(), loss.lower())
