"""The steps a training run and the LR range test share: the data, spread over the strategy's
replicas, and the compiled model."""

import logging
from dataclasses import dataclass

import keras

from ktrain.contracts import DataModule, Strategy, check_data_module
from ktrain.data import SPLITS, Split
from ktrain.distribute import split_across_replicas
from ktrain.run import fitting
from ktrain.run.build import build, compiled_model
from ktrain.schema import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedData:
    """The data module, its splits as this process feeds them, and the steps of an epoch."""

    module: DataModule
    splits: dict[str, Split]
    steps_per_epoch: int


def load_data(config: TrainConfig, strategy: Strategy) -> LoadedData:
    """The data config's module, its steps checked against it, its splits spread over the
    strategy's replicas."""
    module = build(config.data, "data")
    check_data_module(module, config.data.target)
    spec = module.spec
    log.info(
        "data: %s, input shape %s, %d classes, %s samples (train/val/test)",
        config.option("data"),
        spec.input_shape,
        spec.num_classes,
        "/".join(str(spec.split_sizes[split]) for split in SPLITS),
    )
    steps = fitting.steps_per_epoch(config.fit, spec, module.batch_size)
    return LoadedData(module, split_across_replicas(module, strategy), steps)


def build_model(config: TrainConfig, data: LoadedData, strategy: Strategy) -> keras.Model:
    """The model for the data, compiled with the schedule and optimizer, in the strategy's scope."""
    with strategy.scope():
        return compiled_model(config, data.module.spec, data.steps_per_epoch)
