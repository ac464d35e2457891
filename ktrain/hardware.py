"""Devices, precision, threads, seeds and the distribution strategy, from the ``hardware`` group.

``prepare_environment`` sets what the backend reads when it is imported (visible GPUs, the
CPU's logical devices on JAX) and checks TF_CONFIG, so it runs first; ``setup`` imports
Keras and the backend and returns the strategy the model is built and trained under.
TensorFlow is imported only on the TensorFlow backend: with ``KERAS_BACKEND=jax`` (or
``torch``) the strategy is a ``KerasDistribution`` over ``keras.distribution``.
"""

import contextlib
import json
import logging
import os
from pathlib import Path

from ktrain import multi_host, tf_config
from ktrain.data import SPLITS, Split
from ktrain.errors import UserError
from ktrain.schema import Hardware

log = logging.getLogger(__name__)

# Keys that only the TensorFlow backend implements, with what they are for.
TENSORFLOW_ONLY = {
    "memory_limit_mb": "a logical GPU device of a given size",
    "intra_op_threads": "TensorFlow's thread pools",
    "inter_op_threads": "TensorFlow's thread pools",
}


BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}


def keras_backend() -> str:
    """The backend ``import keras`` loads: ``KERAS_BACKEND``, else keras.json's, else tensorflow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((keras_home / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def prepare_environment(hardware: Hardware) -> None:
    """Set what the backend reads at import: quiet C++ logs, the visible GPUs, the CPU's
    logical devices (JAX); refuse what the backend cannot do before importing it."""
    backend = keras_backend()
    _refuse_unsupported(hardware, backend)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if hardware.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    elif hardware.visible_devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, hardware.visible_devices))
    if backend == "jax":
        if hardware.device == "cpu":
            os.environ["JAX_PLATFORMS"] = "cpu"
        flags = [f"--xla_force_host_platform_device_count={hardware.cpu_devices}"] if hardware.cpu_devices > 1 else []
        if hardware.deterministic:
            flags.append("--xla_gpu_deterministic_ops=true")
        if flags:
            os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *flags]).strip()
        if hardware.memory_growth:
            os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    if hardware.strategy == "multi_worker":
        tf_config.read_role()
    if hardware.strategy == "multi_host":
        multi_host.read_role(hardware)


def is_chief(hardware: Hardware) -> bool:
    """Whether this process records the run: always, except the other processes of a
    multi-worker (TF_CONFIG) or multi-host (jax.distributed) run."""
    if hardware.strategy == "multi_worker":
        return tf_config.read_role().is_chief
    if hardware.strategy == "multi_host":
        return multi_host.read_role(hardware).is_chief
    return True


def process_name(hardware: Hardware) -> str:
    """This process among a multi-worker or multi-host run's: ``worker1``, ``process1``, ..."""
    if hardware.strategy == "multi_worker":
        role = tf_config.read_role()
        return f"{role.task_type}{role.task_index}"
    return f"process{multi_host.read_role(hardware).process_id}"


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
    if hardware.mixed_precision:
        keras.mixed_precision.set_global_policy(hardware.mixed_precision)
    keras.utils.set_random_seed(seed)
    log.info(
        "hardware: %s on %s, %s backend, strategy %s (%s, %d replica(s)), precision policy %s",
        option,
        hardware.device,
        keras.backend.backend(),
        hardware.strategy,
        type(strategy).__name__.lstrip("_"),
        strategy.num_replicas_in_sync,
        keras.mixed_precision.global_policy().name,
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
        from ktrain import keras_multi_worker_fix  # it patches Keras: only under this strategy

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


def _refuse_unsupported(hardware: Hardware, backend: str) -> None:
    if hardware.strategy == "multi_host" and backend != "jax":
        raise UserError(
            f"hardware=multi_host joins its processes with jax.distributed, on the JAX backend only, and "
            f"KERAS_BACKEND is {backend}. Run every process with KERAS_BACKEND=jax (pip install -e '.[jax]'), "
            "or use hardware=multi_worker on TensorFlow."
        )
    if backend == "tensorflow":
        return
    problems = [
        f"hardware.{key}={getattr(hardware, key)!r} ({what})"
        for key, what in TENSORFLOW_ONLY.items()
        if getattr(hardware, key) is not None
    ]
    if hardware.strategy == "multi_worker":
        problems.append("hardware=multi_worker (MultiWorkerMirroredStrategy over TF_CONFIG)")
    if backend != "jax" and (hardware.strategy == "mirrored" or hardware.cpu_devices > 1):
        problems.append(f"hardware.strategy={hardware.strategy} with several devices (keras.distribution)")
    if problems:
        what = "is" if len(problems) == 1 else "are"
        raise UserError(
            f"{'; '.join(problems)} {what} not available on the {backend} backend "
            f"(KERAS_BACKEND={backend}). Leave {'it' if len(problems) == 1 else 'them'} at the "
            "default, or train on the TensorFlow backend (unset KERAS_BACKEND)"
            + (", or on JAX for several devices" if backend not in ("tensorflow", "jax") else "")
            + "."
        )


def _refuse_no_gpu(hardware: Hardware, option: str, backend: str):
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
    instead = {
        "default": "Use hardware=cpu on this machine",
        "mirrored": "Use hardware=cpu on this machine (with hardware.strategy=mirrored "
        "hardware.cpu_devices=2 to try the multi-replica path on the CPU)",
        "multi_worker": "Use hardware.device=cpu for workers without GPUs",
    }[hardware.strategy]
    raise UserError(
        f"hardware={option} needs {'a GPU' if hardware.strategy == 'default' else 'GPUs'}, but "
        f"{backend} finds none (GPUs found: 0; CUDA_VISIBLE_DEVICES={visible!r}). {instead}, or "
        "install a GPU build of the backend. ktrain never falls back to the CPU silently."
    )


def split_across_replicas(data, strategy) -> dict[str, Split]:
    """The train/val/test splits of ``data``; with several replicas, the log states the
    per-replica batch, and on JAX (keras.distribution) every batch is made to divide evenly
    across them."""
    splits = {name: data.split(name) for name in SPLITS}
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return splits
    log.info(
        "data: batch_size=%d is the global batch: %d replicas of %g samples each",
        data.batch_size,
        replicas,
        data.batch_size / replicas,
    )
    if not isinstance(strategy, KerasDistribution):
        return splits
    if data.batch_size % replicas:
        raise UserError(
            f"data.batch_size={data.batch_size} does not divide across the {replicas} replicas; "
            f"on the {keras_backend()} backend every batch is split evenly, so give a multiple "
            f"of {replicas} (for example data.batch_size={data.batch_size - data.batch_size % replicas or replicas})."
        )
    if strategy.processes > 1:
        shares = (strategy.process_id, strategy.processes, data.batch_size)
        splits = {name: split.share(*shares) for name, split in splits.items()}
    even = {name: split.divisible(replicas // strategy.processes) for name, split in splits.items()}
    dropped = {name: len(splits[name].y) - len(even[name].y) for name in SPLITS if splits[name].y is not None}
    if any(dropped.values()):
        log.info(
            "data: dropped %s sample(s) so that batches divide across the replicas",
            ", ".join(f"{n} {name}" for name, n in dropped.items() if n),
        )
    return even
