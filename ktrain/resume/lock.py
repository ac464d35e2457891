"""One process trains a run at a time: the lock a training run holds in its run dir.

While it trains, a run holds ``run.lock``: an OS lock (``fcntl.flock``, which the kernel
drops when the process dies, kill -9 included) on a file that says who holds it, with a
heartbeat refreshed in the background. ``resume=`` of a run whose holder is alive is
refused, naming host and pid; a lock left by a dead process does not block: on the same
host the OS lock is free once the process is gone, and from another host (a run dir on a
shared disk, or ``resume=<run id>`` through the ``ktrain.holder`` tag in MLflow, which
``ktrain.tracking.holder`` keeps) a heartbeat older than ``STALE_S`` is a dead holder.

This module imports no TensorFlow, Keras or MLflow: ``resume=`` is checked before Hydra.
"""

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ktrain.errors import UserError
from ktrain.names import RUN_LOCK

try:
    import fcntl
except ImportError:  # Windows: the heartbeat alone tells
    fcntl = None

log = logging.getLogger(__name__)

# A beat every 30 s costs a few small writes a minute. A holder whose last beat is 10 beats
# old is taken for dead: that rides out a tracking server or a shared disk that stalls for
# minutes, and a lost node's run can be resumed elsewhere 5 minutes after it died.
HEARTBEAT_S = 30.0
STALE_S = 300.0


@dataclass
class Holder:
    """The process training a run: where it runs, and when it last said it was alive."""

    host: str
    pid: int
    heartbeat: float  # time.time() of its last beat

    def alive(self) -> bool:
        """Not alive if its heartbeat is stale, or on this host if its process is gone."""
        if time.time() - self.heartbeat > STALE_S:
            return False
        return self.host != socket.gethostname() or _pid_alive(self.pid)

    def refusal(self, what: str) -> str:
        """The paragraph that refuses to resume ``what`` while this holder trains it."""
        age = max(0.0, time.time() - self.heartbeat)
        return (
            f"{what} is being trained right now by process {self.pid} on host {self.host} (its "
            f"last heartbeat {age:.0f} s ago), so it is not resumed a second time: both would "
            "train and record the same epochs. Let it finish, or stop it (kill "
            f"{self.pid} on {self.host}: it ends KILLED and prints the command that continues "
            "it). A holder that died does not block a resume: on the same host once its process "
            f"is gone, from another host once its heartbeat is older than {STALE_S:.0f} s."
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Holder":
        values = json.loads(text)
        return cls(str(values["host"]), int(values["pid"]), float(values["heartbeat"]))


def this_process() -> Holder:
    return Holder(socket.gethostname(), os.getpid(), time.time())


def live_holder(run_dir: Path) -> Holder | None:
    """The live process that holds ``run_dir``'s lock, or None."""
    path = Path(run_dir) / RUN_LOCK
    if not path.is_file():
        return None
    with path.open("r") as file:
        if fcntl is not None:
            try:
                fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # held: the holder runs, here or on a host that shares the disk
                return _read(path) or this_process()
            fcntl.flock(file, fcntl.LOCK_UN)
        holder = _read(path)
    # Free here: a holder on this host is dead; one on another host may still be alive.
    if holder is None or holder.host == socket.gethostname():
        return None
    return holder if holder.alive() else None


def refuse_if_held(run_dir: Path, what: str) -> None:
    """``UserError`` naming the holder if a live process trains the run in ``run_dir``."""
    holder = live_holder(run_dir)
    if holder is not None:
        raise UserError(holder.refusal(what))


class RunLock:
    """The lock of the run in ``run_dir``, held from ``acquire`` to ``release``, with a
    heartbeat thread that refreshes the file every ``HEARTBEAT_S`` and calls ``beat(due)``
    every second, ``due`` True when a heartbeat is due."""

    def __init__(self, run_dir: Path, beat: Callable[[bool], None] | None = None):
        self.path = Path(run_dir) / RUN_LOCK
        self.beat = beat
        self._file = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, what: str) -> None:
        """Take the lock, or raise ``UserError`` naming the live process that holds it."""
        refuse_if_held(self.path.parent, what)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a+")
        if fcntl is not None:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # taken between the check and now
                self._file.close()
                raise UserError((_read(self.path) or this_process()).refusal(what)) from None
        self._write()
        self._thread = threading.Thread(target=self._beat_on, name="ktrain-heartbeat", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop the heartbeat and give the lock up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._file is not None:
            self.path.unlink(missing_ok=True)
            self._file.close()  # drops the OS lock
            self._file = None

    def _write(self) -> Holder:
        holder = this_process()
        self._file.seek(0)
        self._file.truncate()
        self._file.write(holder.to_json())
        self._file.flush()
        return holder

    def _beat_on(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(1.0):
            due = time.monotonic() - last >= HEARTBEAT_S
            if due:
                last = time.monotonic()
            try:
                if due:
                    self._write()
                if self.beat is not None:
                    self.beat(due)
            except Exception:  # tried again at the next beat; a stale heartbeat stops blocking resumes
                log.debug("heartbeat failed", exc_info=True)


def _read(path: Path) -> Holder | None:
    """The holder a lock file names; None if it names none (read again if caught mid-write)."""
    for _ in range(5):
        try:
            return Holder.from_json(path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, KeyError):
            time.sleep(0.02)
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
