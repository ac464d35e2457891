"""Which reduced precisions this machine computes in hardware: the candidates the execution
probe (``ktrain.run.autotune``) may try beside float32.

- a CPU whose flags (``/proc/cpuinfo``) name ``amx_bf16`` or ``avx512_bf16``:
  ``mixed_bfloat16`` (a small conv net on 64x64 images trained 3.65 times faster under it on
  this repository's development machine, which reports ``avx512_bf16``);
- a GPU of compute capability 8.0 or more: ``mixed_bfloat16``; 7.x: ``mixed_float16``, whose
  loss Keras scales (``compile`` wraps the optimizer in a ``LossScaleOptimizer``).

Elsewhere a reduced precision is emulated, slower than float32, and not tried.
"""

import logging
from pathlib import Path

log = logging.getLogger(__name__)

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def reduced_precisions(device: str, backend: str) -> tuple[tuple[str, ...], str]:
    """The mixed precision policies that ``device`` ("cpu" or "gpu") computes in hardware on
    ``backend``, and what says so, for the log."""
    if device == "cpu":
        flags = _cpu_flags()
        found = [flag for flag in BF16_CPU_FLAGS if flag in flags]
        return (("mixed_bfloat16",), f"the CPU reports {', '.join(found)}") if found else ((), "no bf16 CPU flags")
    capability = _gpu_capability(backend)
    if capability is None:
        return (), "the GPU's compute capability is unknown"
    named = f"GPU compute capability {capability[0]}.{capability[1]}"
    if capability >= (8, 0):
        return ("mixed_bfloat16",), named
    if capability >= (7, 0):
        return ("mixed_float16",), named
    return (), named


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def _gpu_capability(backend: str) -> tuple[int, int] | None:
    """The first GPU's compute capability, as the backend reports it."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf  # on this backend only

            gpu = tf.config.list_physical_devices("GPU")[0]
            return tuple(tf.config.experimental.get_device_details(gpu)["compute_capability"])
        if backend == "jax":
            import jax  # on this backend only

            major, minor = str(jax.devices("gpu")[0].compute_capability).split(".")
            return int(major), int(minor)
        import torch  # on this backend only

        return tuple(torch.cuda.get_device_capability(0))
    except Exception:  # no GPU, or a backend that does not say
        log.debug("autotune: no compute capability", exc_info=True)
        return None
