"""Every value a run derives from its validated config, made here and nowhere else.

The validated config is frozen, so each derivation returns a new one; all of them happen
before the run's MLflow run starts, and the run logs the config they leave:

- ``rules``: what the schema's rules change where they give way (``rules.changes``), when the
  config is validated;
- ``threads``: a sweep job's share of the machine's cores, where jobs train at once
  (``ktrain.cli.train``);
- ``learning_rate``: the LR range test's suggestion, for ``optimizer.learning_rate=auto``
  (``ktrain.run.lr_find``), and ``for_range_test``: the config the test itself trains;
- ``execution``: the execution settings left ``auto`` (``compile.steps_per_execution``,
  ``hardware.mixed_precision``, ``hardware.jit_compile``), as the probe chose them
  (``ktrain.run.autotune``), and ``untuned``: Keras' defaults for them, where nothing chooses.
"""

import logging
from collections.abc import Mapping
from typing import Any

from ktrain.schema import rules
from ktrain.schema.base import FrozenMapping, Section
from ktrain.schema.groups import Constant
from ktrain.schema.run import TrainConfig

log = logging.getLogger(__name__)


def rules_applied(config: TrainConfig) -> TrainConfig:
    """``config`` with the rules' changes made, each one logged."""
    found = rules.changes(config)
    for change in found:
        log.info("%s", change.reason)
    return replaced(config, {change.key: change.value for change in found})


def threads(config: TrainConfig, per_job: int, jobs: int) -> TrainConfig:
    """Jobs training at once on one machine split its cores: ``per_job`` threads each, where
    the config sets no thread count of its own."""
    hardware = config.hardware
    chosen = {
        f"hardware.{key}": per_job for key in ("intra_op_threads", "inter_op_threads") if getattr(hardware, key) is None
    }
    derived = replaced(config, chosen)
    log.info(
        "hardware: %d jobs at once on this machine; this one uses %s intra-op and %s inter-op threads",
        jobs,
        derived.hardware.intra_op_threads,
        derived.hardware.inter_op_threads,
    )
    return derived


def learning_rate(config: TrainConfig, rate: float) -> TrainConfig:
    """``config`` training at the base rate ``rate`` (the LR range test's suggestion)."""
    return replaced(config, {"optimizer.learning_rate": rate})


def for_range_test(config: TrainConfig) -> TrainConfig:
    """The config the LR range test trains: its first rate, one step per execution (it sets
    the rate itself, step by step), Keras' defaults for the other execution settings, and no
    schedule."""
    tested = replaced(
        untuned(config), {"optimizer.learning_rate": config.lr_range_test.min_lr, "compile.steps_per_execution": 1}
    )
    return tested.model_copy(update={"schedule": Constant(_target_="ktrain.schedules.constant")})


def open_settings(config: TrainConfig) -> tuple[str, ...]:
    """The execution settings ``config`` leaves to be chosen (``auto``), by key. XLA is
    ``compile.jit_compile``, which ``train.yaml`` takes from ``hardware.jit_compile``."""
    values = {
        "compile.steps_per_execution": config.compile.steps_per_execution,
        "hardware.mixed_precision": config.hardware.mixed_precision,
        "compile.jit_compile": config.compile.jit_compile,
    }
    return tuple(key for key, value in values.items() if value == "auto")


def execution(
    config: TrainConfig, steps_per_execution: int, mixed_precision: str | None, jit_compile: bool | str
) -> TrainConfig:
    """``config`` training with these execution settings, where it left them ``auto``; a value
    it set itself is kept."""
    chosen = {
        "compile.steps_per_execution": steps_per_execution,
        "hardware.mixed_precision": mixed_precision,
        "compile.jit_compile": jit_compile,
    }
    changes = {key: chosen[key] for key in open_settings(config)}
    if "compile.jit_compile" in changes and config.hardware.jit_compile == "auto":
        changes["hardware.jit_compile"] = jit_compile
    return replaced(config, changes)


def untuned(config: TrainConfig) -> TrainConfig:
    """``config`` with Keras' defaults where it left an execution setting ``auto``: one step
    per execution, float32, and XLA as Keras' own ``auto`` decides."""
    return execution(config, 1, None, "auto")


def replaced(config: TrainConfig, changes: Mapping[str, Any]) -> TrainConfig:
    """``config`` with each ``section.key`` of ``changes`` set to its value; a callback whose
    value is ``rules.DROP`` is left out. Keys are one level below a section, as the rules and
    derivations above set them."""
    sections: dict[str, Any] = {}
    for key, value in changes.items():
        section, _, name = key.partition(".")
        node = sections.get(section, getattr(config, section))
        if section == "callbacks":
            entries = {k: v for k, v in node.items() if k != name}
            if value is not rules.DROP:
                entries[name] = value
            sections[section] = FrozenMapping(entries)
        else:
            sections[section] = _set(node, name, value)
    return config.model_copy(update=sections) if sections else config


def _set(node: Section, key: str, value: Any) -> Section:
    """``node`` with ``key`` (as the YAML spells it) set to ``value``."""
    field = next((name for name, info in type(node).model_fields.items() if (info.alias or name) == key), key)
    return node.model_copy(update={field: value})
