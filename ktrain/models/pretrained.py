"""ImageNet weights through keras.applications' own download and cache, refused in one
paragraph where they can be neither found nor fetched.

A keras.applications model built with ``weights="imagenet"`` calls
``keras.src.utils.file_utils.get_file(fname, origin, cache_subdir="models", file_hash=...)``:
a file already in Keras' cache (``KERAS_HOME/models``, ``~/.keras/models`` by default) whose
hash matches is used as it is, with no network access; any other is downloaded with
``urlretrieve``, which has no timeout, so on a machine without network the run would hang, or
end in a traceback. ``imagenet_downloads`` looks first: the download goes ahead only if its
address answers within a few seconds.
"""

import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from keras.src.backend import config as keras_config
from keras.src.utils import file_utils

from ktrain.errors import UserError

log = logging.getLogger(__name__)

REACH_TIMEOUT_S = 5.0  # how long the address of a weights file has to answer


@contextmanager
def imagenet_downloads(architecture: str) -> Iterator[None]:
    """While keras.applications builds ``architecture`` with ImageNet weights: a file in Keras'
    cache is used, one that is not is downloaded only if its address answers, and otherwise a
    ``UserError`` names the file, its address and where to put it."""
    original = file_utils.get_file

    def get_file(fname=None, origin=None, *args, **kwargs):
        _check_cached_or_reachable(architecture, fname, origin, kwargs)
        return original(fname, origin, *args, **kwargs)

    # A narrow wrapper, undone once the model is built: keras.applications calls get_file
    # through the file_utils module and offers no other place to look before it downloads.
    file_utils.get_file = get_file
    try:
        yield
    finally:
        file_utils.get_file = original


def cache_path(fname: str | None, origin: str, cache_subdir: str = "models", cache_dir: str | None = None) -> str:
    """Where ``get_file`` keeps ``fname``, found as Keras finds it: ``KERAS_HOME`` (read when
    Keras was imported), or /tmp/.keras where that is not writable."""
    base = os.path.expanduser(cache_dir or keras_config.keras_home())
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return os.path.join(base, cache_subdir, fname or os.path.basename(urllib.parse.urlsplit(origin).path))


def _check_cached_or_reachable(architecture: str, fname: str | None, origin: str, kwargs: dict) -> None:
    """Nothing if Keras will use its cached file or can download it; else ``UserError``."""
    path = cache_path(fname, origin, kwargs.get("cache_subdir", "datasets"), kwargs.get("cache_dir"))
    file_hash = kwargs.get("file_hash")
    found = os.path.isfile(path)
    if found and (file_hash is None or file_utils.validate_file(path, file_hash)):
        log.info("model: %s's ImageNet weights from Keras' cache: %s", architecture, path)
        return
    reason = unreachable(origin)
    if reason is not None:
        mismatch = " (the file there does not match its published hash)" if found else ""
        raise UserError(
            f"model.weights=imagenet: {architecture}'s ImageNet weights, the file {os.path.basename(path)}, are "
            f"not in Keras' cache{mismatch} and cannot be downloaded from {origin} ({reason}). Download that file "
            f"where the network is reachable and put it at {path} (KERAS_HOME/models; KERAS_HOME is ~/.keras "
            "unless set), or give model.weights=<path of a local weights file>, or model.weights=null for "
            "random init."
        )
    log.info("model: downloading %s's ImageNet weights from %s to %s", architecture, origin, path)


def unreachable(origin: str, any_answer: bool = False) -> str | None:
    """Why ``origin`` gives no answer within ``REACH_TIMEOUT_S``, or None where it answers (with
    ``any_answer``, an HTTP error status counts as an answer: the server is there)."""
    try:
        # A GET whose body is never read: the headers say the address answers.
        urllib.request.urlopen(origin, timeout=REACH_TIMEOUT_S).close()
    except urllib.error.HTTPError as error:
        return None if any_answer else str(error.reason or error)
    except (OSError, ValueError) as error:  # URLError and timeouts are OSErrors
        return str(getattr(error, "reason", None) or error)
    return None
