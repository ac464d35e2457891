"""What a run's process sets up before its backend is imported: the environment variables the
backend reads, and this process's place among a run's processes.

``prepare_environment`` runs before Keras is imported (visible GPUs, the CPU's logical devices
on JAX, TF_CONFIG or the multi-host role checked); ``is_chief`` says whether this process
records the run.
"""

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

from ktrain.data.checked_files import cache_dir
from ktrain.distribute import multi_host, tf_config
from ktrain.errors import UserError
from ktrain.schema import Hardware

# Where the jobs of a sweep on JAX keep what XLA compiled, for the next job (JAX's persistent
# compilation cache, under ktrain's cache dir; JAX_COMPILATION_CACHE_DIR chooses another).
JAX_CACHE = "jax_compilation"

# Keys that only the TensorFlow backend implements, with what they are for.
TENSORFLOW_ONLY = {
    "memory_limit_mb": "a logical GPU device of a given size",
    "intra_op_threads": "TensorFlow's thread pools",
    "inter_op_threads": "TensorFlow's thread pools",
}


BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
# The packages each backend imports, and how to install them.
BACKEND_PACKAGES = {
    "tensorflow": (("tensorflow",), "pip install 'tensorflow>=2.20,<2.22'"),
    "jax": (
        ("jax", "jaxlib"),
        "pip install 'ktrain-hydra[jax]' (pip install -e '.[jax]' in the clone; jax[cuda12] for GPUs)",
    ),
    "torch": (("torch",), "pip install 'ktrain-hydra[torch]' (pip install -e '.[torch]' in the clone)"),
}


def keras_backend() -> str:
    """The backend ``import keras`` loads: ``KERAS_BACKEND``, else keras.json's, else tensorflow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((keras_home / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def prepare_environment(hardware: Hardware, sweep: bool = False, steps_per_execution: int | str = 1) -> None:
    """Set what the backend reads at import: quiet C++ logs, the visible GPUs, the CPU's
    logical devices (JAX), and, for a job of a sweep (``sweep``), JAX's persistent compilation
    cache; refuse what the backend cannot do before importing it (``steps_per_execution``:
    ``compile.steps_per_execution``)."""
    backend = keras_backend()
    _refuse_steps_per_execution(steps_per_execution, backend, hardware)  # a config error first, installed or not
    refuse_missing_backend(backend)
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
        if sweep:
            _share_compilations()
    if hardware.strategy == "multi_worker":
        tf_config.read_role()
    if hardware.strategy == "multi_host":
        multi_host.read_role(hardware)


def _share_compilations() -> None:
    """Turn on JAX's persistent compilation cache, so that a sweep's jobs after the first load
    what the first compiled (a ResNet50's training step takes about a minute to compile on a
    GPU), unless ``JAX_COMPILATION_CACHE_DIR`` is set. Jobs that share a process find JAX
    imported: its config is set then."""
    folder = os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(cache_dir() / JAX_CACHE))
    if "jax" in sys.modules:
        sys.modules["jax"].config.update("jax_compilation_cache_dir", folder)


def is_chief(hardware: Hardware) -> bool:
    """Whether this process records the run: always, except the other processes of a
    multi-worker (TF_CONFIG) or multi-host (jax.distributed) run."""
    if hardware.strategy in ("multi_worker", "multi_host"):  # a backend without it, before its cluster
        _refuse_unsupported(hardware, keras_backend())
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


def refuse_missing_backend(backend: str) -> None:
    """``UserError`` naming what to install if the backend's packages are not installed (Keras'
    own import would fail with a traceback)."""
    packages, install = BACKEND_PACKAGES.get(backend, ((), ""))
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"KERAS_BACKEND={backend} runs Keras on {BACKEND_NAMES[backend]}, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed here: {install}. Or unset "
            "KERAS_BACKEND to train on TensorFlow, which ktrain installs."
        )


def cluster_key(hardware: Hardware) -> str | None:
    """What every process of a multi-worker or multi-host run knows alike, and no other run
    holds at the same time (its cluster's addresses, each taken while it runs), hashed; None
    for a run of one process. The chief tags its MLflow run with it, so that the others find
    the run to log their system metrics into."""
    if hardware.strategy == "multi_worker":
        cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]  # read_role has checked it
        described = json.dumps(cluster, sort_keys=True)
    elif hardware.strategy == "multi_host":
        role = multi_host.read_role(hardware)
        described = f"{role.coordinator_address} x{role.num_processes}"
    else:
        return None
    return hashlib.sha1(described.encode()).hexdigest()[:16]


def _refuse_steps_per_execution(steps_per_execution: int | str, backend: str, hardware: Hardware) -> None:
    """Keras' PyTorch backend runs one step per call (its fit raises ValueError at the first
    batch otherwise), and so must TensorFlow's MirroredStrategy (see ``one_step_per_call``)."""
    if steps_per_execution in (1, "auto"):
        return
    if backend == "torch":
        raise UserError(
            f"compile.steps_per_execution={steps_per_execution} is not available on the torch backend "
            "(KERAS_BACKEND=torch): Keras runs one training step per call there. Leave it at auto (1 on "
            "torch), or train on the TensorFlow or JAX backend."
        )
    if one_step_per_call(backend, hardware.strategy):
        raise UserError(
            f"compile.steps_per_execution={steps_per_execution} is not available with hardware.strategy=mirrored "
            "on the TensorFlow backend: its loop of several steps per call fails in TensorFlow (a placeholder "
            "of the loop left unfed). Leave it at auto (1 there), or train the replicas on the JAX backend "
            "(KERAS_BACKEND=jax), whose DataParallel runs several steps per call."
        )


def one_step_per_call(backend: str, strategy: str) -> bool:
    """Whether Keras can only run one training step per call: on torch, and under TensorFlow's
    MirroredStrategy, whose fit of several steps per call fails with InvalidArgumentError ("You
    must feed a value for placeholder tensor 'while/body/.../while/cond/Placeholder'"; measured
    with TF 2.21 and Keras 3.15 on two logical CPU devices)."""
    return backend == "torch" or (backend == "tensorflow" and strategy == "mirrored")


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
