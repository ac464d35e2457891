"""Files sent to a run's MLflow artifacts in the background, off the training loop.

A run's checkpoints and backup change every epoch, and a ResNet50's are 100 to 300 MB: an
upload can outlast an epoch. ``Uploads`` sends one group of files at a time (at most one
upload in flight) from a single thread; a newer group under the same key (``best``,
``backup``) replaces a queued older one, so a slow link sends the latest files, never a
backlog. Each file is first staged, a copy (or a hard link, for a file that is never
rewritten in place) under the run dir's ``.uploads/``, so that Keras may overwrite the
original while it is on its way. ``close`` waits for everything queued and raises the first
error an upload met: the run then fails, as it does when MLflow refuses a metric.
"""

import itertools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ktrain.names import UPLOAD_STAGING

log = logging.getLogger(__name__)


@dataclass
class Upload:
    """Files to send together, in order, each into its artifact folder; then ``after``.
    ``tree``: one staged folder (``files`` is ``[(folder, None)]``) sent in one call."""

    files: list[tuple[Path, str | None]]  # (staged file, artifact folder)
    after: Callable[[], None] | None = None
    staged: list[Path] = field(default_factory=list)  # the staging folders, removed once sent
    tree: bool = False


class Uploads:
    """A background uploader into one MLflow run.

    Args:
        client: an ``MlflowClient`` of the run's tracking server.
        run_id: the run the files go to.
        run_dir: the run dir; files are staged in its ``.uploads/``.

    Example:

    >>> uploads = Uploads(MlflowClient(uri), run_id, run_dir)
    >>> uploads.send("best", [(run_dir / "checkpoints/best.keras", "checkpoints")], copy=True)
    >>> uploads.close()  # waits; raises if an upload failed
    """

    def __init__(self, client, run_id: str, run_dir: Path):
        self.client = client
        self.run_id = run_id
        self.staging = Path(run_dir) / UPLOAD_STAGING
        # Left by a process of this run that was killed (a resumed run is this run's only live
        # process: run.lock): its numbered folders would collide with this process's.
        shutil.rmtree(self.staging, ignore_errors=True)
        self._queued: dict[str, Upload] = {}
        self._busy = False
        self._error: BaseException | None = None
        self._condition = threading.Condition()
        self._numbers = itertools.count()
        self._thread: threading.Thread | None = None
        # Copies are made in a thread of their own, so that one is never stuck behind an
        # upload in flight: a 100 MB checkpoint copies in a fraction of a second, and
        # Keras may write the next one as soon as the next epoch ends.
        self._stager = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ktrain-stage")
        self._copying: Future | None = None
        self.sent_s = 0.0  # the uploads' own time, for the benchmark

    def send(
        self,
        key: str,
        files: list[tuple[Path, str | None]],
        copy: bool,
        after=None,
        name: str | None = None,
        together: bool = False,
    ) -> None:
        """Stage ``files`` and queue them under ``key``, replacing what ``key`` has queued.
        ``copy``: copy each file in the background (Keras rewrites its checkpoints in place:
        call ``wait_for_copies`` before it may write again); else hard-link it, here. ``name``:
        the file's name in MLflow, if not its own (one file). ``together``: in one call to
        MLflow, in no set order (half the cost of two calls for two checkpoints, measured
        into a SQLite store: 1.0 ms of CPU instead of 2.0)."""
        stage = self._stage_tree if together else self._stage_and_queue
        if copy:
            self._copying = self._stager.submit(stage, key, files, after, True, name)
        else:
            stage(key, files, after, False, name)

    def wait_for_copies(self) -> None:
        """Return once the files handed to ``send`` are copied (at once, unless a copy is
        still running)."""
        if self._copying is not None:
            self._copying.result()
            self._copying = None

    def _stage_and_queue(self, key: str, files, after, copy: bool, name: str | None) -> None:
        upload = Upload([], after)
        for path, artifact_path in files:
            folder = self.staging / str(next(self._numbers))
            folder.mkdir(parents=True, exist_ok=True)
            staged = folder / (name or Path(path).name)
            _stage(Path(path), staged, copy)
            upload.files.append((staged, artifact_path))
            upload.staged.append(folder)
        self.queue(key, upload)

    def _stage_tree(self, key: str, files, after, copy: bool, name: str | None) -> None:
        folder = self.staging / str(next(self._numbers))
        for path, artifact_path in files:
            staged = folder / (artifact_path or "") / (name or Path(path).name)
            staged.parent.mkdir(parents=True, exist_ok=True)
            _stage(Path(path), staged, copy)
        self.queue(key, Upload([(folder, None)], after, [folder], tree=True))

    def queue(self, key: str, upload: Upload) -> None:
        """Queue staged ``upload`` under ``key``; start the sending thread if it is not running."""
        with self._condition:
            replaced = self._queued.pop(key, None)
            self._queued[key] = upload
            if self._thread is None:
                self._thread = threading.Thread(target=self._send_all, name="ktrain-uploads", daemon=True)
                self._thread.start()
            self._condition.notify_all()
        if replaced is not None:
            _remove(replaced)
            log.debug("mlflow: a newer %s replaced one still waiting to be uploaded", key)

    def close(self) -> None:
        """Wait until everything queued is sent; raise the first error an upload met. The
        copying thread ends here: a pool's thread left idle can hold up the interpreter's
        exit (a run stopped by SIGTERM was seen waiting for it at exit)."""
        try:
            self.wait_for_copies()
        finally:
            self._stager.shutdown(wait=False)
        with self._condition:
            while (self._queued or self._busy) and self._error is None:
                self._condition.wait(timeout=1.0)
            error, self._error = self._error, None
        if error is not None:
            raise RuntimeError(f"uploading the run's files to MLflow failed: {error}") from error
        shutil.rmtree(self.staging, ignore_errors=True)

    def _send_all(self) -> None:
        while True:
            with self._condition:
                while not self._queued:
                    self._condition.wait()
                key = next(iter(self._queued))
                upload = self._queued.pop(key)
                self._busy = True
            started = time.perf_counter()
            try:
                for staged, artifact_path in upload.files:
                    sending = self.client.log_artifacts if upload.tree else self.client.log_artifact
                    sending(self.run_id, str(staged), artifact_path)
                if upload.after is not None:
                    upload.after()
            except Exception as error:  # told by close(), in the training thread
                log.debug("upload of %s failed", key, exc_info=True)
                with self._condition:
                    self._error = self._error or error
            finally:
                _remove(upload)
                self.sent_s += time.perf_counter() - started
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()


def _stage(path: Path, staged: Path, copy: bool) -> None:
    if not copy:
        try:
            os.link(path, staged)
            return
        except OSError:  # another file system, or one without hard links
            pass
    shutil.copyfile(path, staged)  # the kernel's copy_file_range/sendfile on Linux


def _remove(upload: Upload) -> None:
    """The upload's staging folders, whatever they hold: this must not end the sending thread,
    or ``close`` would wait for it forever (seen when a killed try's folders were left)."""
    for folder in upload.staged:
        shutil.rmtree(folder, ignore_errors=True)


def delete_artifacts(client, run_id: str, artifact_path: str) -> None:
    """Delete ``artifact_path`` from the run's artifacts, where the store allows it (a local
    folder and ``mlflow server --serve-artifacts`` do); otherwise leave it and say so."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    try:
        get_artifact_repository(client.get_run(run_id).info.artifact_uri).delete_artifacts(artifact_path)
    except Exception:  # NotImplementedError, or a store that refuses
        log.debug("mlflow: could not delete %s of run %s", artifact_path, run_id, exc_info=True)
