"""A narrow workaround for keras-team/keras#20585: Keras 3's ``fit`` fails under
``tf.distribute.MultiWorkerMirroredStrategy``.

Two places of ``keras/src/backend/tensorflow/trainer.py`` go wrong with more than one worker:

- ``TensorFlowTrainer._maybe_symbolic_build`` builds the model from a sample batch that it
  first reduces across the workers; building only needs the shapes of the local batch.
- ``reduce_per_replica(..., reduction="auto")`` takes a MEAN over axis 0 of the step's logs,
  which are scalars; a MEAN over axis None averages them across the workers as intended.

``install`` replaces both, each only under MultiWorkerMirroredStrategy in multi-worker mode
(everything else reaches Keras' own code), and only on the Keras versions the replacement was
checked against; on another version it changes nothing and logs why. The two-worker test in
tests/test_hardware.py covers it.
"""

import logging

import keras
from keras.src import tree
from keras.src.backend.tensorflow import trainer

log = logging.getLogger(__name__)

CHECKED_KERAS = ("3.15.",)  # version prefixes whose trainer.py this replaces code of
UPSTREAM = "https://github.com/keras-team/keras/issues/20585"


def install() -> bool:
    """Patch Keras' TensorFlow trainer for multi-worker training; return whether it did."""
    if not keras.__version__.startswith(CHECKED_KERAS):
        log.warning(
            "hardware: Keras %s is not a version the workaround for %s was checked on (%s); running Keras unpatched",
            keras.__version__,
            UPSTREAM,
            ", ".join(f"{v}*" for v in CHECKED_KERAS),
        )
        return False
    if getattr(trainer, "_ktrain_multi_worker_fix", False):
        return True
    multi_worker = trainer._collective_all_reduce_multi_worker
    keras_build = trainer.TensorFlowTrainer._maybe_symbolic_build
    keras_reduce = trainer.reduce_per_replica

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is not None and strategy is not None and multi_worker(strategy):
            for _, _, batches in iterator:
                data_batch = tree.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0], next(batches)
                )
                break
            iterator = None
        return keras_build(self, iterator=iterator, data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction == "auto" and multi_worker(strategy):
            return tree.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return keras_reduce(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    trainer._ktrain_multi_worker_fix = True
    log.info("hardware: applied the multi-worker workaround for %s", UPSTREAM)
    return True
