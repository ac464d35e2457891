"""Devices, precision, threads and seeds, from the ``hardware`` config group.

``prepare_environment`` sets what TensorFlow reads when it is imported, so it runs first;
``setup`` imports TensorFlow and configures the rest, returning the distribution strategy
that the model is built under.
"""

import logging
import os
from typing import Any

from ktrain.errors import UserError

log = logging.getLogger(__name__)


def prepare_environment(hardware: Any) -> None:
    """Set the environment TensorFlow reads at import: quiet C++ logs, the visible GPUs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if hardware.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    elif hardware.visible_devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, hardware.visible_devices))


def setup(hardware: Any, seed: int):
    """Import TensorFlow, configure devices, precision and seeds; return the strategy."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if hardware.device == "gpu" and not gpus:
        raise UserError(
            f"hardware={hardware.name} needs a GPU, but TensorFlow finds none (GPUs found: 0; "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')!r}). "
            "Use hardware=cpu on this machine, or install a GPU build of TensorFlow."
        )
    for gpu in gpus:
        if hardware.memory_limit_mb is not None:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=hardware.memory_limit_mb)]
            )
        elif hardware.memory_growth:
            tf.config.experimental.set_memory_growth(gpu, True)
    if hardware.intra_op_threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(hardware.intra_op_threads)
    if hardware.inter_op_threads is not None:
        tf.config.threading.set_inter_op_parallelism_threads(hardware.inter_op_threads)
    if hardware.mixed_precision:
        keras.mixed_precision.set_global_policy(hardware.mixed_precision)
    keras.utils.set_random_seed(seed)
    if hardware.deterministic:
        tf.config.experimental.enable_op_determinism()
    log.info("hardware: %s, %d GPU(s) visible, precision policy %s",
             hardware.name, len(gpus), keras.mixed_precision.global_policy().name)
    return tf.distribute.get_strategy()
