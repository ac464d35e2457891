"""The steps a training run and the LR range test share: the data, spread over the strategy's
replicas, and the compiled model."""

import logging
from dataclasses import dataclass

import keras

from ktrain.contracts import DataModule, Strategy, check_data_module, checked_splits
from ktrain.data import SPLITS, Split
from ktrain.distribute import split_across_replicas
from ktrain.errors import UserError
from ktrain.run import fitting
from ktrain.run.build import build
from ktrain.run.compiling import compiled_model
from ktrain.schema import TrainConfig
from ktrain.schema.messages import paragraph
from ktrain.schema.rules import monitor_problems

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedData:
    """The data module, its splits as this process feeds them, and the steps of each."""

    module: DataModule
    splits: dict[str, Split]
    steps: fitting.Steps


def load_data(config: TrainConfig, strategy: Strategy) -> LoadedData:
    """The data config's module, its targets and steps checked against the config, its splits
    spread over the strategy's replicas."""
    module = build(config.data, "data")
    check_data_module(module, config.data.target)
    spec = module.spec
    log.info(
        "data: %s, inputs %s%s, targets %s, %s samples (train/val/test)",
        config.option("data"),
        spec.input_shape if spec.inputs is None else spec.inputs,
        f" of {', '.join(sorted(set(spec.dtypes.values())))}" if spec.dtypes else "",
        ", ".join(f"{t.name} ({t.kind}{f', {len(t.classes)} classes' if t.classes else ''})" for t in spec.targets),
        "/".join(str(spec.split_sizes.get(split, "?")) for split in SPLITS),
    )
    problems = monitor_problems(config, {target.name: target.kind for target in spec.targets})
    if problems:
        raise UserError(paragraph(problems))
    splits = split_across_replicas(module, checked_splits(module, config.data.target), strategy)
    return LoadedData(module, splits, fitting.steps(config, spec, module.batch_size, splits))


def build_model(config: TrainConfig, data: LoadedData, strategy: Strategy) -> keras.Model:
    """The model for the data, compiled with the schedule and optimizer, in the strategy's scope."""
    with strategy.scope():
        # The whole training split, not this process's share: every process adapts the same layers.
        train_inputs = lambda: data.module.split("train").inputs()  # noqa: E731
        return compiled_model(config, data.module.spec, data.steps.per_epoch, train_inputs)
