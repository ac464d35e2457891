"""Files sent to a run's MLflow artifacts in the background, off the training loop.

A run's checkpoints and backup change every epoch, and a ResNet50's are 100 to 300 MB: an
upload can outlast an epoch. ``Uploads`` sends one group of files at a time (at most one
upload in flight) from a single thread; a newer group under the same key (``best``,
``backup``) replaces a queued older one, so a slow link sends the latest files, never a
backlog. Each file is first staged under the run dir's ``.uploads/``, so that it may change
while it is on its way: a hard link where the file is written anew each time (ktrain's
``ModelCheckpoint``, the backup), else a copy (Keras' own ``ModelCheckpoint`` rewrites its
file in place). ``close`` waits for everything queued and raises the first error an upload
met: the run then fails, as it does when MLflow refuses a metric.

A local artifact store (``file:``) needs neither: each file is placed in the run's artifact
folder at once, hard-linked where it is written anew (copied where it is rewritten in place,
or on another file system) and renamed over the one there, as MLflow's local store does with
a copy. MLflow's copies, and the freeing of the copies they replaced, were most of what the
uploads cost each epoch (benchmarks/README.md).
"""

import functools
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
from urllib.parse import urlparse

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
    >>> uploads.wait_for_staging()  # before Keras may rewrite the file
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
        # Files are staged in a thread of their own, so that one is never stuck behind an
        # upload in flight: a 100 MB checkpoint copies in a fraction of a second, and
        # Keras may write the next one as soon as the next epoch ends.
        self._stager = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ktrain-stage")
        self._staging: Future | None = None
        # Looked up once: a run's lookup costs 7 ms of CPU in a SQLite store (measured), which
        # every epoch's delete of the previous backup paid when it looked the run up itself.
        self._artifact_uri = client.get_run(run_id).info.artifact_uri
        self._artifact_folder = local_artifact_folder(self._artifact_uri)
        self._repository = None  # for deletes, made at the first
        self.sent_s = 0.0  # the uploads' own time, for the benchmark

    def send(
        self,
        key: str,
        files: list[tuple[Path, str | None]],
        copy: bool,
        after=None,
        name: str | None = None,
        together: bool = False,
        background: bool = True,
    ) -> None:
        """Stage ``files`` and queue them under ``key``, replacing what ``key`` has queued (into
        a local store: place them). ``copy``: copy each file (one that is rewritten in place);
        else hard-link it. ``background``: in the staging thread (call ``wait_for_staging``
        before a file may be written again); else here, in the caller's thread. ``name``: the
        file's name in MLflow, if not its own (one file). ``together``: in one call to MLflow,
        in no set order (half the cost of two calls for two checkpoints, measured into a SQLite
        store: 1.0 ms of CPU instead of 2.0)."""
        if self._artifact_folder is not None:
            work = functools.partial(self._place, files, after, copy, name)
        else:
            stage = self._stage_tree if together else self._stage_and_queue
            work = functools.partial(stage, key, files, after, copy, name)
        if background:
            self._staging = self._stager.submit(work)
        else:
            work()

    def wait_for_staging(self) -> None:
        """Return once the files handed to ``send`` in the background are staged (at once,
        unless a copy is still running)."""
        if self._staging is not None:
            self._staging.result()
            self._staging = None

    def _place(self, files, after, copy: bool, name: str | None) -> None:
        """Into a local artifact folder: each file in, replacing the one there at once, then
        ``after``; an error is kept for ``close``, as the sending thread keeps one."""
        started, failed = time.perf_counter(), None
        try:
            for path, artifact_path in files:
                destination = self._artifact_folder / (artifact_path or "") / (name or Path(path).name)
                destination.parent.mkdir(parents=True, exist_ok=True)
                placing = destination.with_name(f".placing-{destination.name}")
                placing.unlink(missing_ok=True)
                _stage(Path(path), placing, copy)
                os.replace(placing, destination)
            if after is not None:
                after()
        except Exception as error:
            failed = error
        self._record(f"placing {files} in the run's artifacts", started, failed)

    def _record(self, what: str, started: float, error: BaseException | None) -> None:
        """Count the time of ``what`` (an upload or a placing, in whichever thread made it);
        keep its error if it is the first, for ``close`` to raise in the training thread."""
        with self._condition:
            self.sent_s += time.perf_counter() - started
            if error is not None:
                log.debug("%s failed", what, exc_info=error)
                self._error = self._error or error

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
        staging thread ends here: a pool's thread left idle can hold up the interpreter's
        exit (a run stopped by SIGTERM was seen waiting for it at exit)."""
        try:
            self.wait_for_staging()
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
            started, failed = time.perf_counter(), None
            try:
                for staged, artifact_path in upload.files:
                    sending = self.client.log_artifacts if upload.tree else self.client.log_artifact
                    sending(self.run_id, str(staged), artifact_path)
                if upload.after is not None:
                    upload.after()
            except Exception as error:
                failed = error
            finally:
                _remove(upload)
                self._record(f"upload of {key}", started, failed)
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def delete(self, artifact_path: str) -> None:
        """Delete ``artifact_path`` from the run's artifacts, where the store allows it (a local
        folder and ``mlflow server --serve-artifacts`` do); otherwise leave it and say so. For
        an upload's ``after``."""
        try:
            if self._repository is None:
                from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

                self._repository = get_artifact_repository(self._artifact_uri, self.client.tracking_uri)
            self._repository.delete_artifacts(artifact_path)
        except Exception:  # NotImplementedError, or a store that refuses
            log.debug("mlflow: could not delete %s of run %s", artifact_path, self.run_id, exc_info=True)


def local_artifact_folder(artifact_uri: str) -> Path | None:
    """The folder of a run's artifacts if their store is a local one (``file:`` or a plain
    path), else None (``mlflow-artifacts:``, ``s3:``, ...)."""
    from mlflow.utils.file_utils import local_file_uri_to_path

    local = urlparse(artifact_uri).scheme in ("", "file")
    return Path(local_file_uri_to_path(artifact_uri)) if local else None


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
