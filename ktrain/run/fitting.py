"""The arguments of ``Model.fit`` that depend on the data and on a restored backup, checked
against the data before training: Keras would train on one short batch, or run out of data
with only a warning."""

import math
from typing import Any

from ktrain.data import DataSpec
from ktrain.errors import UserError
from ktrain.schema.run import Fit


def steps_per_epoch(fit: Fit, spec: DataSpec, batch_size: int) -> int:
    """The steps of one epoch; ``UserError`` if the batch or the asked steps exceed the data."""
    sizes = spec.split_sizes
    if batch_size > sizes["train"]:
        raise UserError(
            f"data.batch_size={batch_size} is larger than the train split ({sizes['train']} samples), "
            f"so every epoch would be one short batch. Give data.batch_size of at most {sizes['train']}, "
            "or more data."
        )
    available = {"train": math.ceil(sizes["train"] / batch_size), "val": math.ceil(sizes["val"] / batch_size)}
    for key, split in (("steps_per_epoch", "train"), ("validation_steps", "val")):
        asked = getattr(fit, key)
        if asked is not None and asked > available[split]:
            raise UserError(
                f"fit.{key}={asked} is more than the {split} split holds: {sizes[split]} samples in "
                f"batches of {batch_size} make {available[split]} steps. Give fit.{key} of at most "
                f"{available[split]}, or null for one pass over the {split} split."
            )
    return fit.steps_per_epoch or available["train"]


def fit_arguments(fit: Fit, spec: DataSpec, backup, shuffle_arrays: bool) -> dict[str, Any]:
    """``fit.*`` as ``Model.fit`` takes it: the class weights computed, training continued after
    the backup's last epoch, and no ``shuffle`` for a dataset (it shuffles itself, and Keras
    warns when fit is asked to)."""
    arguments = fit.values()
    arguments["class_weight"] = class_weight(fit.class_weight, spec)
    arguments["initial_epoch"] = max(fit.initial_epoch, backup.next_epoch)
    if backup.finished_training:
        arguments["epochs"] = arguments["initial_epoch"]  # restore the state, train no epoch
    if not shuffle_arrays:
        arguments["shuffle"] = False
    return arguments


def class_weight(setting: Any, spec: DataSpec) -> dict[int, float] | None:
    """``fit.class_weight``: as given, or ``balanced``: n / (classes * count) per class."""
    if setting != "balanced":
        return None if setting is None else {int(k): float(v) for k, v in setting.items()}
    total = sum(spec.class_counts)
    return {index: total / (spec.num_classes * count) for index, count in enumerate(spec.class_counts) if count}
