"""The run's holder in MLflow: the ``ktrain.holder`` tag (host, pid, heartbeat) that lets
``resume=<run id>`` on another machine see that the run still trains (``ktrain.resume.lock``)."""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ktrain.errors import UserError
from ktrain.names import HOLDER_TAG
from ktrain.resume.lock import Holder, RunLock, this_process
from ktrain.tracking.tags import delete_run_tag, set_run_tag

log = logging.getLogger(__name__)


@contextmanager
def holding(run_dir: Path, tracking_uri: str, run_id: Callable[[], str | None]) -> Iterator[None]:
    """Hold the run's lock while the block trains it, and its heartbeat tag in MLflow once
    ``run_id()`` names its run; ``UserError`` if a live process holds it already. On the way
    out the lock is given up and the tag deleted, also where no beat came yet: a resumed run
    shorter than a beat would leave the tag of the process that died before it."""
    told: list[str] = []

    def beat(due: bool) -> None:
        current = run_id()  # the store only once the run exists: a new SQLite store is made under a lock
        if current is not None and (due or current not in told):
            set_run_tag(tracking_uri, current, HOLDER_TAG, this_process().to_json())
            told[:] = [current]

    lock = RunLock(run_dir, beat)
    lock.acquire(f"The run in {run_dir}")
    try:
        yield
    finally:
        lock.release()  # after the last beat, so none sets the tag again
        for current in dict.fromkeys([*told, run_id()]):
            if current is None:
                continue
            try:
                delete_run_tag(tracking_uri, current, HOLDER_TAG)
            except Exception:  # the tag then goes stale, which blocks nothing after STALE_S
                log.debug("could not delete the holder tag", exc_info=True)


def refuse_if_held_remotely(client, run_id: str, what: str) -> None:
    """``UserError`` naming the holder if the run's heartbeat tag says it trains now."""
    refuse_if_tagged(client.get_run(run_id).data.tags, what)


def refuse_if_tagged(tags: dict[str, str], what: str) -> None:
    """``UserError`` naming the holder if the heartbeat tag among a run's ``tags`` says it
    trains now."""
    text = tags.get(HOLDER_TAG)
    if not text:
        return
    try:
        holder = Holder.from_json(text)
    except (ValueError, KeyError):
        return
    if holder.alive():
        raise UserError(holder.refusal(what))
