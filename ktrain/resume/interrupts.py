"""Ctrl-C and SIGTERM end a run the same way: KILLED in MLflow, its checkpoints and backup
kept, the command that continues it in the log, and exit status 128 + the signal's number."""

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# The signals the handler raised for, while it is installed. Python ignores an exception
# raised in a ``__del__`` or a weakref callback, and a signal that comes while one runs raises
# there: a SIGTERM landed in TensorFlow's ConcreteFunctionGarbageCollector.__del__, was printed
# as "Exception ignored", and the run trained on to FINISHED. ``raise_if_swallowed`` raises it
# again from the training loop.
_raised: list[int] = []


class Interrupted(KeyboardInterrupt):
    """SIGTERM, told like Ctrl-C: the run ends KILLED, its checkpoints and backup kept."""

    def __init__(self, signal_number: int):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


@contextmanager
def exit_when_stopped(continue_with: str | None, stop_signal: str = "SIGTERM") -> Iterator[None]:
    """Inside, Ctrl-C, SIGTERM and ``stop_signal`` (the one a scheduler sends before its kill,
    e.g. SLURM's ``--signal=USR1@120``) raise ``Interrupted``; a stop that gets out (after the
    MLflow run has ended KILLED, its backup committed and uploaded) is logged with
    ``continue_with``, the command that continues the run, and the process exits with 128 +
    the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
    numbers = {signal.SIGTERM, signal.Signals[stop_signal]}
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # not where it is ignored (a pool's worker)
        numbers.add(signal.SIGINT)
    with _signals_raise(numbers):
        try:
            yield
        except KeyboardInterrupt as stop:
            number = stop.signal_number if isinstance(stop, Interrupted) else signal.SIGINT
            log.warning("run stopped by %s", signal.Signals(number).name)
            if continue_with:
                log.warning("continue it with: %s", continue_with)
            sys.exit(128 + number)


def raise_if_swallowed() -> None:
    """Raise ``Interrupted`` for a stop whose first raise something ignored (the training
    loop calls it at every batch; nothing is raised twice once a stop got out, as the process
    then ends)."""
    if _raised:
        raise Interrupted(_raised[-1])


@contextmanager
def _signals_raise(numbers: set[int]) -> Iterator[None]:
    def interrupt(signal_number, frame):
        if _raised:  # a repeat (Ctrl-C twice; a sweep's process passing on what the group got)
            ending = "committing the last backup, ending the MLflow run KILLED"
            log.warning("already stopping (%s); kill -9 %d ends the process at once", ending, os.getpid())
            return
        _raised.append(signal_number)
        raise Interrupted(signal_number)

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = {number: signal.signal(number, interrupt) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _raised.clear()
