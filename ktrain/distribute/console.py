"""What the backend's native code prints while it starts, kept off the console.

TensorFlow's C++ libraries log before ``TF_CPP_MIN_LOG_LEVEL`` applies: importing them prints
absl's "All log messages before absl::InitializeLog()" warning and the oneDNN and CUDA-driver
banners (twice: two libraries each log them), and finding the devices of a CPU-only run prints
"failed call to cuInit" from ``cuda_platform.cc``; LiteRT's interpreter announces its CPU
delegate. While the backend is imported and its devices are set up (or, in ``ktrain-export``,
a format is run), the process's standard error (file descriptor 2, which native code writes
to) goes to a temporary file; afterwards each line that is such a banner goes to the log
(``train.log`` for a run, DEBUG), and every other line to the console, as it came.

``TF_CPP_MIN_LOG_LEVEL=0`` (or 1) in the environment asks for TensorFlow's own logging: then
nothing is held back.
"""

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

log = logging.getLogger(__name__)

# Start-up lines of TensorFlow's native libraries (and of XLA and CUDA's) that say nothing
# about the run: what a CPU-only run, or a GPU run that finds its GPU, always prints.
BANNERS = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
    "failed call to cuInit",
    "cuda_platform.cc",
    "cudart_stub.cc",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation_placer.cc",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
    "TF-TRT Warning",
    "Created TensorFlow Lite XNNPACK delegate for CPU",
)


def wants_native_logging() -> bool:
    """Whether the environment asks for TensorFlow's own start-up logging
    (``TF_CPP_MIN_LOG_LEVEL`` 0 or 1)."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() in ("0", "1")


@contextlib.contextmanager
def quiet_native_logs(explained: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Hold back the native banners printed inside the block (see the module's docstring);
    the other lines reach the console when it ends, however it ends, except where the block
    raises one of ``explained``: an error whose message tells what those lines said (a
    converter's diagnostics of an op it lacks), which then sends every line to the log."""
    if wants_native_logging():
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to redirect
        yield
        return
    told = False
    with tempfile.TemporaryFile() as held:
        sys.stderr.flush()
        os.dup2(held.fileno(), 2)
        try:
            yield
        except explained:
            told = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            _replay(held.read().decode(errors="replace"), told)


def quiet_backend_start() -> contextlib.AbstractContextManager:
    """For a command that imports the backend to load a model (``ktrain-predict``,
    ``ktrain-export``): TensorFlow's C++ logging at WARNING, as a run's is
    (``prepare_environment``), unless the environment sets its level, and the start-up
    banners held back while the block imports the backend and loads the model."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return quiet_native_logs()


def _replay(text: str, told: bool = False) -> None:
    shown = []
    for line in text.splitlines():
        if told or any(banner in line for banner in BANNERS):
            log.debug("native log: %s", line)
        else:
            shown.append(line)
    if shown:
        sys.stderr.write("\n".join(shown) + "\n")
        sys.stderr.flush()
