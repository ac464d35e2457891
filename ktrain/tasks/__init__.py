"""Targets and their tasks: every problem Keras trains, one kind of target at a time.

A data module declares its targets (``Target``: a name, a kind, what the run records of it).
The task of each kind (``task_of``) owns, in one place, its head, its default loss and metrics,
the losses that fit it, how a split is stratified, what ``fit.class_weight=balanced`` means,
and how predictions are decoded:

- ``class`` (one of N), ``binary``, ``multi_label``: ``classification.py``;
- ``number`` (regression, of any shape): ``regression.py``;
- ``mask`` (a class per pixel): ``segmentation.py``.

A model with several targets has one output per target, named after it; the functions below
put them together: the heads of a model (``heads``), ``compile.loss`` and ``compile.metrics``
resolved (``losses``, ``metrics``), and the keys of Keras' epoch logs (``logged_names``).

This package imports no Keras at import time (data modules read targets without TensorFlow),
and of ktrain only ``errors``.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ktrain.errors import UserError
from ktrain.tasks import classification, regression, segmentation  # noqa: F401 (each registers its tasks)
from ktrain.tasks.base import TASKS, Decoding, Task, loss_name, register, task_of
from ktrain.tasks.target import Target

__all__ = [
    "TASKS",
    "Decoding",
    "Target",
    "Task",
    "guess_kind",
    "head_problems",
    "heads",
    "logged_names",
    "loss_name",
    "losses",
    "metrics",
    "register",
    "task_of",
]

SINGLE_OUTPUT = "predictions"  # the output layer of a model of one target, as ktrain has always named it


def guess_kind(values: np.ndarray) -> tuple[str, str]:
    """The kind of target ``values`` (all samples, first axis) most likely are, and why:
    integer masks shaped (n, height, width) are ``mask``; rows of 0/1 are ``class`` when each
    holds one 1 (one-hot), else ``multi_label``; one 0 or 1 per sample is ``binary``; integers
    that are class indices 0 to N-1, each class with two samples at least (so that a split can
    keep their proportions), are ``class``; anything else is ``number``."""
    integer = np.issubdtype(values.dtype, np.integer) or values.dtype == bool
    zero_one = values.size > 0 and bool(np.isin(values, (0, 1)).all())
    if values.ndim == 3 and integer:
        return "mask", "integers shaped (samples, height, width)"
    if values.ndim == 2 and values.shape[1] > 1:
        if not zero_one:
            return "number", f"{values.shape[1]} values per sample that are not all 0 or 1"
        if bool((values.sum(axis=1) == 1).all()):
            return "class", "one-hot rows"
        return "multi_label", "rows of 0 and 1 with several ones"
    if zero_one:
        return "binary", "one 0 or 1 per sample"
    flat = values.reshape(len(values), -1)[:, 0] if values.ndim == 2 else values
    if integer and flat.ndim == 1 and flat.size and flat.min() >= 0:
        counts = np.bincount(flat)
        if counts.min() >= 2:
            return "class", f"class indices 0 to {len(counts) - 1}, each class with 2 samples at least"
        return "number", "integers that are not class indices 0 to N-1 with 2 samples of each"
    return "number", "numbers" if not integer else "integers that are not class indices"


def heads(features, targets: Sequence[Target]):
    """The outputs of a model for ``targets`` on ``features``: one tensor for one target, a
    mapping of target name to tensor for several."""
    if len(targets) == 1:
        return task_of(targets[0]).head(features, SINGLE_OUTPUT)
    return {target.name: task_of(target).head(features, target.name) for target in targets}


def head_problems(output_shape: Any, output_names: Sequence[str], targets: Sequence[Target]) -> list[str]:
    """What does not fit between a model's outputs (``model.output_shape``: one shape, or one
    per output in ``output_names`` order) and ``targets``: nothing where it fits."""
    several = isinstance(output_shape, list | dict)
    if len(targets) == 1:
        if several and len(output_shape) != 1:
            return [f"the model has {len(output_shape)} outputs, and the data one target ({targets[0].name!r})"]
        shape = (
            (list(output_shape.values()) if isinstance(output_shape, dict) else output_shape)[0]
            if several
            else output_shape
        )
        problem = task_of(targets[0]).head_problem(tuple(shape))
        return [problem] if problem else []
    if not several:
        names = ", ".join(t.name for t in targets)
        return [f"it has one output, and the data {len(targets)} targets ({names}), each of which needs its own"]
    shapes = dict(output_shape) if isinstance(output_shape, dict) else dict(zip(output_names, output_shape))
    problems = [f"it has no output named {t.name!r}" for t in targets if t.name not in shapes]
    names = [t.name for t in targets]
    problems += [
        f"its output {name!r} is none of the targets' ({', '.join(names)})" for name in shapes if name not in names
    ]
    problems += [task_of(t).head_problem(tuple(shapes[t.name])) for t in targets if t.name in shapes]
    return [problem for problem in problems if problem]


def losses(targets: Sequence[Target], setting: Any) -> Any:
    """``compile.loss`` for ``targets``: ``auto`` is each task's own; a name, a loss mapping
    (``{_target_: ...}``) or a per-output mapping is kept, checked against the tasks."""
    tasks = [task_of(target) for target in targets]
    if setting == "auto":
        chosen = {task.target.name: task.loss() for task in tasks}
        return next(iter(chosen.values())) if len(tasks) == 1 else chosen
    per_output = _per_output(setting, targets, "compile.loss")
    problems = [task.loss_problem(per_output[task.target.name]) for task in tasks if task.target.name in per_output]
    problems = [problem for problem in problems if problem]
    if problems:
        raise UserError(f"compile.loss does not fit the data: {'; '.join(problems)}.")
    if isinstance(setting, Mapping) and "_target_" not in setting:
        # A target the mapping leaves out (or gives auto) gets its task's loss: Keras would train
        # a head left out on none.
        given = [setting.get(task.target.name, "auto") for task in tasks]
        return {task.target.name: task.loss() if loss == "auto" else loss for task, loss in zip(tasks, given)}
    return setting


def metrics(targets: Sequence[Target], setting: Any) -> Any:
    """``compile.metrics`` for ``targets``: ``auto`` is each task's own; anything else as given."""
    if isinstance(setting, Mapping) and "_target_" not in setting:  # per output; auto: the task's own
        return {
            target.name: task_of(target).metrics() if setting[target.name] == "auto" else setting[target.name]
            for target in targets
            if target.name in setting
        }
    if setting != "auto":
        return setting
    chosen = {target.name: task_of(target).metrics() for target in targets}
    return next(iter(chosen.values())) if len(targets) == 1 else chosen


def logged_names(kinds: Mapping[str, str], setting: Any) -> list[str] | None:
    """The keys of Keras' training epoch logs (without ``val_``) for targets of ``kinds`` (name
    -> kind) compiled with metrics ``setting``; None where they cannot be told before the model
    is built (metric objects, a per-output list for one output)."""
    per_output = {
        name: list(TASKS[kind].metric_names) if setting == "auto" else setting for name, kind in kinds.items()
    }
    if isinstance(setting, Mapping):
        per_output = {name: setting.get(name, []) for name in kinds}
        per_output = {n: list(TASKS[kinds[n]].metric_names) if m == "auto" else m for n, m in per_output.items()}
    if not all(isinstance(names, list) and all(isinstance(n, str) for n in names) for names in per_output.values()):
        return None
    if len(kinds) > 1 and not isinstance(setting, Mapping) and setting != "auto":
        return None  # one list for several outputs: Keras' own rules name them
    if len(kinds) == 1:
        return ["loss", *next(iter(per_output.values()))]
    per_metric = [f"{name}_{metric}" for name, names in per_output.items() for metric in names]
    return ["loss", *(f"{name}_loss" for name in kinds), *per_metric]


def _per_output(setting: Any, targets: Sequence[Target], key: str) -> dict[str, Any]:
    """``setting`` by target name: one setting for every output, or a per-output mapping."""
    names = [target.name for target in targets]
    if isinstance(setting, Mapping) and "_target_" not in setting:
        unknown = sorted(set(setting) - set(names))
        if unknown:
            raise UserError(
                f"{key} names the outputs {', '.join(unknown)}, which the data have no target of; "
                f"the targets are {', '.join(names)}."
            )
        return dict(setting)
    return dict.fromkeys(names, setting)
