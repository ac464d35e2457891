"""A Keras callback that sends a run's checkpoints to MLflow as soon as Keras writes them."""

import functools
import logging
from pathlib import Path

import keras

from ktrain.names import CHECKPOINT_DIR, EPOCH_CHECKPOINTS
from ktrain.tracking.logged_models import CheckpointModels
from ktrain.tracking.uploads import Uploads

log = logging.getLogger(__name__)

# Which checkpoints each mlflow.checkpoints policy sends while the run trains ("end": none;
# the run's end sends all of checkpoints/ instead).
POLICIES = {"best": ("best",), "last": ("last",), "best_and_last": ("best", "last"), "every": ("last",), "end": ()}


class CheckpointUploads(keras.callbacks.Callback):
    """Uploads the checkpoint files that ``ModelCheckpoint`` callbacks write, in the
    background: a file is noticed when the epoch that wrote it has ended, staged while the
    next epoch trains (hard-linked, or copied aside if it is rewritten in place), then
    uploaded by ``uploads`` (one at a time, a newer file replacing a queued older one).

    A checkpoint written in a writer thread of its own (``ktrain.callbacks.ModelCheckpoint``
    with ``background=True``, given in ``writers``) is noticed in that thread, once its save is
    whole (its ``then``), and staged there; the others are noticed in the training loop.

    Place it before the ``ModelCheckpoint`` callbacks: at the end of an epoch it first waits
    for the staging of the previous file (long done unless a copy outlasts an epoch), so that
    Keras never rewrites a file while it is being copied.

    Args:
        uploads: the run's ``Uploads``.
        files: the checkpoint files by role, ``{"best": path, "last": path}``.
        policy: a key of ``POLICIES``; with ``every``, each epoch's ``last`` file is kept
            in MLflow as ``checkpoints/epochs/epoch-00012.keras``.
        keep: with ``every``, how many of those stay in MLflow (older ones are deleted).
        copy: whether a file is rewritten in place (Keras' ``ModelCheckpoint``) and must be
            copied aside; False where each save is a new file (``ktrain.callbacks.ModelCheckpoint``).
        models: told of each file once it is sent, to make it a LoggedModel
            (``ktrain.tracking.logged_models.CheckpointModels``); None: files only.
        writers: by role, the callback that writes the file in a thread of its own: anything
            with ``then(work)``, which runs ``work`` once the saves it queued are whole.

    Example:

    >>> uploads = CheckpointUploads(Uploads(client, run_id, run_dir), {"best": run_dir / "checkpoints/best.keras"})
    >>> model.fit(x, y, callbacks=[uploads, best_checkpoint])
    """

    def __init__(
        self,
        uploads: Uploads,
        files: dict[str, Path],
        policy: str = "best_and_last",
        keep: int = 3,
        copy: bool = True,
        models: CheckpointModels | None = None,
        writers: dict | None = None,
    ):
        super().__init__()
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
        self.copy = copy
        self.models = models
        self.uploads = uploads
        self.files = {role: Path(path) for role, path in files.items() if role in POLICIES[policy]}
        self.policy = policy
        self.keep = keep
        self.writers = {role: writer for role, writer in (writers or {}).items() if role in self.files}
        self._seen: dict[str, tuple[int, int] | None] = {}
        self._epoch = -1
        self._kept: list[str] = []

    def on_train_begin(self, logs=None):
        self._seen = {role: _stamp(path) for role, path in self.files.items()}  # a resumed run's are sent

    def on_epoch_begin(self, epoch, logs=None):
        self._look_after_saves()

    def on_epoch_end(self, epoch, logs=None):
        self.uploads.wait_for_staging()  # before the ModelCheckpoint callbacks write again
        self._epoch = epoch

    def on_train_end(self, logs=None):
        self._look_after_saves()

    def close(self) -> None:
        """Hand over what the last epoch wrote (a fit stopped by a signal skips on_train_end);
        call it once the writers have closed."""
        self.look()

    def look(self, roles=None, epoch: int | None = None) -> None:
        """Hand every checkpoint file of ``roles`` (all) written since the last look to the
        uploader: those of one epoch together (queued under their roles, ``best+last``: a
        newer group of the same roles replaces a queued one and goes last, so the newest of
        each file is sent last). In a writer's thread, staged there."""
        epoch = self._epoch if epoch is None else epoch
        written = []
        for role in roles or self.files:
            path, stamp = self.files[role], _stamp(self.files[role])
            if stamp is None or stamp == self._seen.get(role):
                continue
            self._seen[role] = stamp
            written.append((role, path))
        background = roles is None or not any(role in self.writers for role in roles)
        if self.policy == "every":
            for _, path in written:
                self._send_epoch(path, epoch, background)
        elif written:
            key = "+".join(role for role, _ in written)
            sent = [(role, f"{CHECKPOINT_DIR}/{path.name}") for role, path in written]
            files = [(path, CHECKPOINT_DIR) for _, path in written]
            after = self._tell_models(sent, epoch)
            self.uploads.send(key, files, copy=self.copy, together=True, after=after, background=background)

    def _look_after_saves(self) -> None:
        """Look at the files written in the loop now, and at each writer's file once its
        queued saves are whole (in its thread)."""
        in_loop = [role for role in self.files if role not in self.writers]
        if in_loop:
            self.look(in_loop)
        for role, writer in self.writers.items():
            writer.then(functools.partial(self.look, [role], self._epoch))

    def _send_epoch(self, path: Path, epoch: int, background: bool) -> None:
        name = f"epoch-{epoch + 1:05d}{''.join(path.suffixes)}"
        self._kept.append(f"{EPOCH_CHECKPOINTS}/{name}")
        dropped = self._kept[: -self.keep]
        self._kept = self._kept[-self.keep :]

        tell_models = self._tell_models([("epoch", f"{EPOCH_CHECKPOINTS}/{name}")], epoch, dropped)

        def drop_older() -> None:
            for artifact in dropped:
                self.uploads.delete(artifact)
            if tell_models is not None:
                tell_models()

        self.uploads.send(
            name, [(path, EPOCH_CHECKPOINTS)], copy=self.copy, after=drop_older, name=name, background=background
        )

    def _tell_models(self, sent: list[tuple[str, str]], epoch: int, dropped: list[str] = ()):
        """What tells ``models`` that the files ``sent`` ((role, artifact)) of ``epoch`` are in
        MLflow, and ``dropped`` no longer: an upload's ``after``."""
        if self.models is None:
            return None
        models = self.models

        def tell() -> None:
            for artifact in dropped:
                models.dropped(artifact)
            for role, artifact in sent:
                models.sent(role, artifact, epoch)

        return tell


def _stamp(path: Path) -> tuple[int, int] | None:
    """The file's modification time and size, or None if it is not there."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size
