"""A sweep stopped (SIGTERM, its ``stop_signal``, Ctrl-C) ends its running jobs KILLED, then itself.

A job that runs in the sweep's own process (Hydra's basic launcher) catches the signal itself
(``ktrain.resume.interrupts``). Jobs in worker processes (joblib's) do not get a signal sent to
the sweep's process alone (a user's ``kill``, a container's stop), and joblib ends its workers
with SIGKILL once the sweep's process stops: their runs stayed RUNNING, and trained on until
then. So the sweep's process passes the signal on to each job it runs on this machine (the
process that holds the job's ``run.lock``), waits until each has ended its run, and exits
with 128 + the signal's number, its parent run ended KILLED by the sweep's exit handler.
"""

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ktrain.names import RUN_LOCK, command
from ktrain.resume.lock import live_holder

log = logging.getLogger(__name__)

# How long the sweep waits for its jobs to commit their last backups, send them and end their
# runs: a ResNet50's backup is 300 MB, sent to a tracking server.
JOBS_END_S = 300.0


_previous: dict[int, Any] = {}  # the handlers the sweep's took the place of
_stopped_by: list[str] = []  # the signal that stopped the sweep, once one has


def stop_jobs_when_stopped(sweep_dir: Path, stop_signal: str = "SIGTERM") -> None:
    """In the sweep's process, SIGTERM, ``stop_signal`` and Ctrl-C end the sweep's running jobs
    and then the sweep, until ``restore_signals``. While the jobs end, a second stop is taken
    as the signal's earlier handler would take it."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        return
    numbers = {signal.SIGTERM, signal.Signals[stop_signal]}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where it is ignored
        numbers.add(signal.SIGINT)

    def stop(signal_number, frame):
        restore_signals()
        _stopped_by.append(signal.Signals(signal_number).name)
        _stop_jobs(Path(sweep_dir), signal_number)
        log.warning("sweep stopped by %s", signal.Signals(signal_number).name)
        log.warning("continue it with: %s -m resume=%s", command("train"), sweep_dir)
        sys.exit(128 + signal_number)

    _previous.update({number: signal.signal(number, stop) for number in numbers})


def restore_signals() -> None:
    """Put back the handlers ``stop_jobs_when_stopped`` took the place of."""
    for number, handler in _previous.items():
        signal.signal(number, handler)
    _previous.clear()


def stopped_by() -> str | None:
    """The signal that stopped the sweep in this process, if one did."""
    return _stopped_by[-1] if _stopped_by else None


def _stop_jobs(sweep_dir: Path, signal_number: int) -> None:
    """Send the stop on to the sweep's running jobs, and wait until they have ended."""
    jobs = _running_jobs(sweep_dir)
    if not jobs:
        return
    # SIGTERM for Ctrl-C: a worker started in the background ignores SIGINT.
    passed = signal.SIGTERM if signal_number == signal.SIGINT else signal_number
    log.warning("sweep: stopping its running jobs (processes %s)", ", ".join(map(str, jobs)))
    for pid in jobs:
        with contextlib.suppress(ProcessLookupError):  # ended meanwhile
            os.kill(pid, passed)
    deadline = time.monotonic() + JOBS_END_S
    while _running_jobs(sweep_dir) and time.monotonic() < deadline:
        time.sleep(0.2)


def _running_jobs(sweep_dir: Path) -> list[int]:
    """The processes on this host, other than this one, that train a job of the sweep."""
    holders = (live_holder(lock.parent) for lock in sweep_dir.rglob(RUN_LOCK))
    here = socket.gethostname()
    return sorted({h.pid for h in holders if h is not None and h.host == here and h.pid != os.getpid()})
