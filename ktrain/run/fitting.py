"""The arguments of ``Model.fit`` and ``Model.evaluate`` that depend on the data and on a
restored backup, checked against the data before training: Keras would train on one short
batch, run out of data with only a warning, or wait forever on a source that never ends."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ktrain.data import DataSpec, Split, array_length
from ktrain.errors import UserError
from ktrain.schema import TrainConfig
from ktrain.schema.run import Fit
from ktrain.tasks import task_of

# The settings that give each split's steps, for the refusals.
STEP_KEYS = {"train": "fit.steps_per_epoch", "val": "fit.validation_steps", "test": "evaluate.steps"}


@dataclass(frozen=True)
class Steps:
    """The batches of one pass over each split that the run gives Keras (None: Keras counts
    them), and the steps of one epoch, which the schedules are laid out by."""

    per_epoch: int
    train: int | None
    val: int | None
    test: int | None


def steps(config: TrainConfig, spec: DataSpec, batch_size: int, splits: dict[str, Split]) -> Steps:
    """The steps of each split; ``UserError`` if the batch or the asked steps exceed the data,
    or a split never ends by itself and nothing says how many of its batches make a pass."""
    given = {"train": config.fit.steps_per_epoch, "val": config.fit.validation_steps, "test": config.evaluate.steps}
    if splits["train"].arrays:
        _check_batch(spec, batch_size, splits["train"])
    _check_targets_of_arrays(spec, splits)
    _check_arrays_fit_the_spec(spec, splits)
    _check_asked_steps(given, spec, batch_size, splits)
    chosen = {split: given[split] or splits[split].steps for split in given}
    for split, source in splits.items():
        if source.endless and chosen[split] is None:
            raise UserError(
                f"data: the {split} split is a {type(source.x).__name__}, which never ends by itself, so a pass "
                f"over it needs a number of batches: give {STEP_KEYS[split]}=<batches>, or have the data module "
                f"hand it out as Split(..., steps=<batches>). Each of train, val and test needs its own "
                f"({', '.join(STEP_KEYS.values())})."
            )
    per_epoch = chosen["train"] or _length(splits["train"], spec.split_sizes.get("train"), batch_size)
    if per_epoch is None:
        raise UserError(
            f"data: the train split ({type(splits['train'].x).__name__}) does not tell its length, and the "
            "schedules are laid out in steps: give fit.steps_per_epoch=<batches per epoch>, or data.split sizes."
        )
    return Steps(per_epoch, chosen["train"], chosen["val"], chosen["test"])


def _length(split: Split, size: int | None, batch_size: int) -> int | None:
    """The batches of one pass over ``split``: its own length, else its size in batches."""
    if split.arrays:
        return math.ceil((size or array_length(split.x)) / batch_size)
    length = getattr(split.x, "__len__", None)
    if length is not None:
        try:
            return int(length())
        except TypeError:  # a tf.data.Dataset of unknown cardinality
            pass
    return math.ceil(size / batch_size) if size else None


def _check_batch(spec: DataSpec, batch_size: int, split: Split) -> None:
    train = spec.split_sizes.get("train") or array_length(split.x)
    if batch_size > train:
        raise UserError(
            f"data.batch_size={batch_size} is larger than the train split ({train} samples), "
            f"so every epoch would be one short batch. Give data.batch_size of at most {train}, or more data."
        )


def _check_targets_of_arrays(spec: DataSpec, splits: dict[str, Split]) -> None:
    """Arrays of several targets are a mapping by target name: Keras pairs a tuple or list with
    the model's outputs in an order of its own, and fails deep in ``fit`` on a key no output has."""
    names = [target.name for target in spec.targets]
    if len(names) < 2:
        return
    for split, source in splits.items():
        if not source.arrays:
            continue
        keys = list(source.y) if isinstance(source.y, Mapping) else None
        if keys is not None and sorted(map(str, keys)) == sorted(names):
            continue
        given = f"has the keys {', '.join(map(str, keys))}" if keys is not None else f"is a {type(source.y).__name__}"
        raise UserError(
            f"data: the {split} split's y {given}, and the data have the targets {', '.join(names)}: hand out y "
            f"as a dict of arrays by target name ({{{', '.join(f'{n!r}: ...' for n in names)}}}), which Keras "
            "pairs with the model's outputs of those names."
        )


def _check_arrays_fit_the_spec(spec: DataSpec, splits: dict[str, Split]) -> None:
    """Arrays whose samples are not shaped as the spec says, or whose class labels lie outside
    the target's classes: the model is built from the spec, and Keras or the backend would
    fail inside ``fit`` (a shape the model does not take; TensorFlow's label out of range)."""
    declared = spec.inputs if spec.inputs is not None else {None: spec.input_shape}
    for split, source in splits.items():
        if not source.arrays:
            continue
        for name, shape in declared.items():
            x = source.x[name] if name is not None and isinstance(source.x, Mapping) else source.x
            given = getattr(x, "shape", None)
            if shape is not None and given is not None and not _same_shape(tuple(given[1:]), tuple(shape)):
                what = f"input {name!r}" if name is not None else "input_shape"
                raise UserError(
                    f"data: the {split} split's x{f'[{name!r}]' if name else ''} holds samples shaped "
                    f"{tuple(given[1:])}, and the data module's spec gives {what} {tuple(shape)}, which the model is "
                    "built for: make the spec say the arrays' shape."
                )
        for target in spec.targets:
            problem = _labels_outside(target, source.y, len(spec.targets))
            if problem:
                raise UserError(f"data: the {split} split's y {problem}.")


def _same_shape(given: tuple, declared: tuple) -> bool:
    return len(given) == len(declared) and all(d is None or g == d for g, d in zip(given, declared))


def _labels_outside(target, y: Any, targets: int) -> str | None:
    """What is wrong with the class indices of ``target`` in ``y``, if anything."""
    if not target.classes or target.kind not in ("class", "binary"):
        return None
    values = y.get(target.name) if isinstance(y, Mapping) else y if targets == 1 else None
    values = np.asarray(values) if values is not None else None
    if values is None or values.size == 0 or not np.issubdtype(values.dtype, np.number):
        return None
    if values.ndim == 2 and values.shape[1] > 1:  # one-hot rows
        return None
    count = len(target.classes)
    low, high = values.min(), values.max()
    if low >= 0 and high < count and np.all(np.mod(values, 1) == 0):
        return None
    return (
        f"for the target {target.name!r} holds labels from {low:g} to {high:g}, and the target has {count} classes: "
        f"its labels are class indices 0 to {count - 1}. Shift the labels, or give the target the classes they use"
    )


def _check_asked_steps(given: dict, spec: DataSpec, batch_size: int, splits: dict[str, Split]) -> None:
    """Steps asked of a split that ends (arrays, a dataset of known length) beyond its end:
    Keras would run out of data, warn, and stop training there."""
    for split, asked in given.items():
        source = splits.get(split)
        if asked is None or source is None or source.endless:
            continue
        size = spec.split_sizes.get(split)
        available = source.steps or _length(source, size, batch_size)
        if available and asked > available:
            holds = f"{available} batches"
            if size:
                holds = f"{size} samples in batches of {batch_size} make {available} step{'s' * (available > 1)}"
            raise UserError(
                f"{STEP_KEYS[split]}={asked} is more than the {split} split holds: {holds}. Give "
                f"{STEP_KEYS[split]} of at most {available}, or null for one pass over the {split} split."
            )


def fit_arguments(fit: Fit, spec: DataSpec, backup, splits: dict[str, Split], steps: Steps) -> dict[str, Any]:
    """``fit.*`` as ``Model.fit`` takes it: the class weights computed, the steps of a source
    that needs them, training continued after the backup's last epoch, and no ``shuffle`` for
    a dataset (it shuffles itself, and Keras warns when fit is asked to)."""
    arguments = fit.values()
    arguments["class_weight"] = class_weight(fit.class_weight, spec)
    arguments["steps_per_epoch"], arguments["validation_steps"] = steps.train, steps.val
    arguments["initial_epoch"] = max(fit.initial_epoch, backup.next_epoch)
    if backup.finished_training:
        arguments["epochs"] = arguments["initial_epoch"]  # restore the state, train no epoch
    if not splits["train"].arrays:
        arguments["shuffle"] = False
    return arguments


def class_weight(setting: Any, spec: DataSpec) -> dict[int, float] | None:
    """``fit.class_weight``, a weight for each class of the target (``Task.class_weights``)."""
    if setting is None:
        return None
    if len(spec.targets) != 1:
        raise UserError(
            f"fit.class_weight weighs the classes of one target, and the data have {len(spec.targets)} "
            "targets (Keras takes class weights for a model of one output); leave fit.class_weight null."
        )
    return task_of(spec.targets[0]).class_weights(setting)
