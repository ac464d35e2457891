"""A local SQLite store, used by several processes at once: its file, and the lock that lets
one process at a time create and migrate its tables."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

# MLflow says at INFO, in a format of its own, that it creates a new store's tables and brings
# them up to date: on the first run of every project, before ktrain's line naming the store.
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


@contextmanager
def store_lock(tracking_uri: str) -> Iterator[None]:
    """For a SQLite store, one process at a time: MLflow creates and migrates the tables on
    a process's first call, and two processes doing that at once both fail. The lock is a
    file beside the database (``fcntl``; on Windows, where it is missing, no lock)."""
    if not tracking_uri.startswith("sqlite:///"):
        yield
        return
    database = sqlite_path(tracking_uri)
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".lock"), "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def sqlite_path(tracking_uri: str) -> Path:
    """The database file of a ``sqlite:///`` tracking URI (three slashes, then the path)."""
    return Path(tracking_uri.removeprefix("sqlite:///"))
