"""A data module's splits spread over the strategy's replicas and processes."""

import logging

from ktrain.data import SPLITS, Split
from ktrain.distribute.environment import keras_backend
from ktrain.distribute.strategy import KerasDistribution
from ktrain.errors import UserError

log = logging.getLogger(__name__)


def refuse_indivisible_batch(batch_size: int, strategy) -> None:
    """``UserError`` if ``keras.distribution`` (JAX) cannot split a batch of ``batch_size``
    evenly over the strategy's replicas; checked once the strategy is set up, before the run
    starts, and again on the data module's batch. TensorFlow's strategies split unevenly."""
    replicas = strategy.num_replicas_in_sync
    if isinstance(strategy, KerasDistribution) and batch_size % replicas:
        raise UserError(
            f"data.batch_size={batch_size} does not divide across the {replicas} replicas; "
            f"on the {keras_backend()} backend every batch is split evenly, so give a multiple "
            f"of {replicas} (for example data.batch_size={batch_size - batch_size % replicas or replicas})."
        )


def split_across_replicas(data, splits: dict[str, Split], strategy) -> dict[str, Split]:
    """The train/val/test ``splits`` of ``data``; with several replicas, the log states the
    per-replica batch, and every batch is made to divide evenly across them: on JAX
    (keras.distribution) arrays and datasets, on TensorFlow datasets (its arrays divide themselves)."""
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return splits
    refuse_indivisible_batch(data.batch_size, strategy)  # a data module's own batch size
    log.info(
        "data: batch_size=%d is the global batch: %d replicas of %g samples each",
        data.batch_size,
        replicas,
        data.batch_size / replicas,
    )
    if not isinstance(strategy, KerasDistribution):  # TensorFlow's: its arrays divide themselves
        sizes = data.spec.split_sizes
        return {n: s if s.arrays else s.divisible(replicas, sizes.get(n), data.batch_size) for n, s in splits.items()}
    if strategy.processes > 1:
        shares = (strategy.process_id, strategy.processes, data.batch_size)
        splits = {name: split.share(*shares) for name, split in splits.items()}
    sizes = data.spec.split_sizes if strategy.processes == 1 else {}  # a process's share is not the split
    per_process = replicas // strategy.processes
    even = {n: s.divisible(per_process, sizes.get(n), data.batch_size) for n, s in splits.items()}
    dropped = {name: len(splits[name].y) - len(even[name].y) for name in SPLITS if splits[name].y is not None}
    if any(dropped.values()):
        log.info(
            "data: dropped %s sample(s) so that batches divide across the replicas",
            ", ".join(f"{n} {name}" for name, n in dropped.items() if n),
        )
    return even
