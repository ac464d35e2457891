"""The strategy a model is built and trained under, from the ``hardware`` group: devices,
memory, precision and seeds configured once the backend is imported.

TensorFlow is imported only on the TensorFlow backend: with ``KERAS_BACKEND=jax`` (or
``torch``) the strategy is a ``KerasDistribution`` over ``keras.distribution``. Either way it
is a ``ktrain.contracts.Strategy``: ``scope()`` and ``num_replicas_in_sync``.
"""

import contextlib
import logging
import os

from ktrain.distribute import multi_host
from ktrain.distribute.environment import BACKEND_NAMES
from ktrain.errors import UserError
from ktrain.schema import Hardware

log = logging.getLogger(__name__)


def setup(hardware: Hardware, seed: int, option: str):
    """Import the backend, configure devices, precision and seeds; return the strategy.

    ``option`` is the hardware option the config chose, for the log and the refusals. The
    strategy has ``scope()`` (build the model inside it) and ``num_replicas_in_sync``.
    """
    import keras  # (backend imports are made here, after prepare_environment: see the docstring)

    if keras.backend.backend() == "tensorflow":
        strategy = _tensorflow_strategy(hardware, option)
    else:
        strategy = _keras_distribution(hardware, option, keras.backend.backend())
    # A policy left to the execution probe (auto) is float32 until it chooses; set either way,
    # so that a sweep's earlier job in this process leaves none behind.
    chosen = hardware.mixed_precision not in (None, "auto")
    keras.mixed_precision.set_global_policy(hardware.mixed_precision if chosen else "float32")
    keras.utils.set_random_seed(seed)
    log.info(
        "hardware: %s on %s, %s backend, strategy %s (%s, %d replica(s)), precision policy %s",
        option,
        hardware.device,
        keras.backend.backend(),
        hardware.strategy,
        type(strategy).__name__.lstrip("_"),
        strategy.num_replicas_in_sync,
        keras.mixed_precision.global_policy().name if chosen or not hardware.mixed_precision else "auto",
    )
    return strategy


def _tensorflow_strategy(hardware: Hardware, option: str):
    import tensorflow as tf  # the TensorFlow backend's strategies

    logging.getLogger("tensorflow").setLevel(logging.WARNING)  # tf.distribute logs every all-reduce at INFO

    gpus = tf.config.list_physical_devices("GPU")
    if hardware.device == "gpu" and not gpus:
        _refuse_no_gpu(hardware, option, "TensorFlow")
    for gpu in gpus:
        if hardware.memory_limit_mb is not None:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=hardware.memory_limit_mb)]
            )
        elif hardware.memory_growth:
            tf.config.experimental.set_memory_growth(gpu, True)
    if hardware.cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(hardware.cpu_devices)]
        )
    if hardware.intra_op_threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(hardware.intra_op_threads)
    if hardware.inter_op_threads is not None:
        tf.config.threading.set_inter_op_parallelism_threads(hardware.inter_op_threads)
    if hardware.deterministic:
        tf.config.experimental.enable_op_determinism()
    if hardware.strategy == "mirrored":
        kind = "GPU" if hardware.device == "gpu" else "CPU"
        return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices(kind)])
    if hardware.strategy == "multi_worker":
        from ktrain.distribute import keras_multi_worker_fix  # it patches Keras: only under this strategy

        keras_multi_worker_fix.install()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


class KerasDistribution:
    """What the run needs of a strategy on JAX or torch: a scope to build the model in, and
    the replica count. Several replicas are a ``keras.distribution.DataParallel`` set for
    the whole process, since Keras shards each batch when ``fit`` runs, not at build time."""

    def __init__(self, devices: list[str], process_id: int = 0, processes: int = 1):
        self.devices = devices
        self.num_replicas_in_sync = len(devices)
        self.process_id = process_id
        self.processes = processes  # several with hardware=multi_host: each feeds its share

    def scope(self):
        return contextlib.nullcontext()


def _keras_distribution(hardware: Hardware, option: str, backend: str) -> KerasDistribution:
    import keras  # (backend imports are made here, after prepare_environment: see the docstring)

    kind = "gpu" if hardware.device == "gpu" else "cpu"
    role = multi_host.read_role(hardware) if hardware.strategy == "multi_host" else None
    if role is not None:  # before anything asks JAX for its devices
        multi_host.join(role, hardware.initialization_timeout_s, cpu=kind == "cpu")
    devices = _devices(kind, backend)
    if kind == "gpu" and not devices:
        _refuse_no_gpu(hardware, option, BACKEND_NAMES.get(backend, backend))
    if role is not None:
        return _across_hosts(role, devices)
    if hardware.strategy != "mirrored":
        return KerasDistribution(devices[:1] or [kind])
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return KerasDistribution(devices)


def _across_hosts(role: multi_host.Role, devices: list[str]) -> KerasDistribution:
    """Every process's ``devices`` (all of them, once joined) in one DataParallel; each process
    feeds its own share of the data (``split_across_replicas``), hence no auto-sharding."""
    import keras  # (backend imports are made here, after prepare_environment: see the docstring)

    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False))
    return KerasDistribution(devices, process_id=role.process_id, processes=role.num_processes)


def _devices(kind: str, backend: str) -> list[str]:
    """The backend's devices of ``kind`` ("cpu" or "gpu"); keras.distribution covers JAX only."""
    if backend == "torch":
        import torch  # the PyTorch backend only

        return [f"cuda:{i}" for i in range(torch.cuda.device_count())] if kind == "gpu" else ["cpu:0"]
    import keras  # (backend imports are made here, after prepare_environment: see the docstring)

    try:
        return keras.distribution.list_devices(kind)
    except (RuntimeError, ValueError):  # JAX has no backend of that kind here
        return []


def _refuse_no_gpu(hardware: Hardware, option: str, backend: str):
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
    instead = {
        "default": "Use hardware=cpu on this machine",
        "mirrored": "Use hardware=cpu on this machine (with hardware.strategy=mirrored "
        "hardware.cpu_devices=2 to try the multi-replica path on the CPU)",
        "multi_worker": "Use hardware.device=cpu for workers without GPUs",
        "multi_host": "Use hardware.device=cpu for processes without GPUs",
    }[hardware.strategy]
    raise UserError(
        f"hardware={option} needs {'a GPU' if hardware.strategy == 'default' else 'GPUs'}, but "
        f"{backend} finds none (GPUs found: 0; CUDA_VISIBLE_DEVICES={visible!r}). {instead}, or "
        "install a GPU build of the backend. ktrain never falls back to the CPU silently."
    )
