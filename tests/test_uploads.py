"""The background uploader of checkpoints and backups (``ktrain.tracking.uploads``), and the
checkpoint uploads of a real run: in MLflow as Keras writes them."""

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from ktrain.tracking.uploads import Uploads


class SlowClient:
    """An ``MlflowClient`` stand-in for a remote server: each upload takes ``seconds``;
    records what it got."""

    def __init__(self, seconds=0.0, fail=False):
        self.seconds, self.fail = seconds, fail
        self.sent: list[tuple[str, str, bytes]] = []
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()

    def get_run(self, run_id):
        return SimpleNamespace(info=SimpleNamespace(artifact_uri=f"mlflow-artifacts:/0/{run_id}/artifacts"))

    def log_artifact(self, run_id, local_path, artifact_path=None):
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.seconds)
        with self.lock:
            self.in_flight -= 1
        if self.fail:
            raise OSError("the server said 503")
        with open(local_path, "rb") as f:
            self.sent.append((artifact_path, local_path.rsplit("/", 1)[1], f.read()))


def test_a_newer_file_replaces_a_queued_one_and_one_upload_is_in_flight(tmp_path):
    client = SlowClient(seconds=0.3)
    uploads = Uploads(client, "run", tmp_path)
    checkpoint = tmp_path / "best.keras"
    for version in range(4):
        checkpoint.write_bytes(b"v%d" % version)
        uploads.send("best", [(checkpoint, "checkpoints")], copy=True)
        uploads.wait_for_staging()  # what the callback does before Keras writes again
    uploads.close()
    # One went at once; those handed over while it was in flight were replaced by the newest.
    sent = [content for _, _, content in client.sent]
    assert len(sent) == 2 and sent[-1] == b"v3"
    assert client.most_in_flight == 1
    assert not (tmp_path / ".uploads").exists()


def test_the_file_is_copied_so_keras_may_overwrite_it_while_it_uploads(tmp_path):
    client = SlowClient(seconds=0.3)
    uploads = Uploads(client, "run", tmp_path)
    checkpoint = tmp_path / "best.keras"
    checkpoint.write_bytes(b"epoch 1")
    uploads.send("best", [(checkpoint, "checkpoints")], copy=True)
    uploads.wait_for_staging()
    with checkpoint.open("wb") as f:  # as Keras saves: in place
        f.write(b"epoch 2, half writ")
    uploads.close()
    assert client.sent == [("checkpoints", "best.keras", b"epoch 1")]


def test_the_best_and_last_checkpoint_of_an_epoch_go_up_together_as_they_were(tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = client.create_run(client.create_experiment("x", (tmp_path / "artifacts").as_uri())).info.run_id
    uploads = Uploads(client, run_id, tmp_path / "run")
    best, last = tmp_path / "best.keras", tmp_path / "last.keras"
    for epoch in (1, 2):
        best.write_bytes(b"best %d" % epoch)
        last.write_bytes(b"last %d" % epoch)
        uploads.send("best+last", [(best, "checkpoints"), (last, "checkpoints")], copy=True, together=True)
        uploads.wait_for_staging()
    with best.open("wb") as f:  # rewritten in place, after the hand-over
        f.write(b"best 3, half")
    uploads.close()
    folder = tmp_path / "artifacts" / run_id / "artifacts" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["best.keras", "last.keras"]  # no part files left
    assert (folder / "best.keras").read_bytes() == b"best 2" and (folder / "last.keras").read_bytes() == b"last 2"
    assert [a.path for a in client.list_artifacts(run_id, "checkpoints")] == [
        "checkpoints/best.keras",
        "checkpoints/last.keras",
    ]
    assert not (tmp_path / "run" / ".uploads").exists()


def test_into_a_local_store_a_file_written_anew_is_linked_not_copied(tmp_path):
    # ktrain's ModelCheckpoint and the backup write a new file each time: the file MLflow holds
    # is the run dir's own, hard-linked, and a newer one replaces it whole.
    from mlflow import MlflowClient

    from ktrain.tracking.uploads import local_artifact_folder

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = client.create_run(client.create_experiment("x", (tmp_path / "artifacts").as_uri())).info.run_id
    folder = local_artifact_folder(client.get_run(run_id).info.artifact_uri)
    assert folder == tmp_path / "artifacts" / run_id / "artifacts"
    uploads = Uploads(client, run_id, tmp_path / "run")
    best = tmp_path / "best.keras"
    inodes = []
    for epoch in (1, 2):
        best.with_name("new").write_bytes(b"best %d" % epoch)
        os.replace(best.with_name("new"), best)  # as ktrain's ModelCheckpoint saves
        inodes.append(best.stat().st_ino)
        uploads.send("best", [(best, "checkpoints")], copy=False, together=True)
        uploads.wait_for_staging()
    uploads.close()
    sent = folder / "checkpoints" / "best.keras"
    assert sent.read_bytes() == b"best 2" and sent.stat().st_ino == inodes[-1]
    assert sorted(p.name for p in sent.parent.iterdir()) == ["best.keras"]  # no link left half-made
    assert [a.path for a in client.list_artifacts(run_id, "checkpoints")] == ["checkpoints/best.keras"]


def test_into_a_local_store_on_another_file_system_the_file_is_copied(tmp_path):
    from mlflow import MlflowClient

    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    artifacts = Path(tempfile.mkdtemp(dir=shm))
    try:
        client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        run_id = client.create_run(client.create_experiment("x", artifacts.as_uri())).info.run_id
        uploads = Uploads(client, run_id, tmp_path / "run")
        state = tmp_path / "state.json"
        state.write_text('{"epoch": 1}')
        uploads.send("backup", [(state, "backup")], copy=False, background=False)
        uploads.close()
        sent = artifacts / run_id / "artifacts" / "backup" / "state.json"
        assert sent.read_text() == '{"epoch": 1}' and sent.stat().st_ino != state.stat().st_ino
    finally:
        shutil.rmtree(artifacts)


def test_a_failed_upload_is_raised_when_the_run_closes_its_uploads(tmp_path):
    uploads = Uploads(SlowClient(fail=True), "run", tmp_path)
    (tmp_path / "state.json").write_text("{}")
    uploads.send("backup", [(tmp_path / "state.json", "backup")], copy=False)
    with pytest.raises(RuntimeError, match="uploading the run's files to MLflow failed: the server said 503"):
        uploads.close()


def test_handing_a_100_mb_checkpoint_over_does_not_wait_for_its_upload(tmp_path):
    client = SlowClient(seconds=1.0)
    uploads = Uploads(client, "run", tmp_path)
    checkpoint = tmp_path / "big.keras"
    checkpoint.write_bytes(b"\0" * 100_000_000)
    start = time.perf_counter()
    uploads.send("best", [(checkpoint, "checkpoints")], copy=True)
    handed_over = time.perf_counter() - start
    uploads.close()
    assert handed_over < 0.05 and uploads.sent_s >= 1.0


def test_staging_left_by_a_killed_try_of_the_run_does_not_stop_the_uploads(tmp_path):
    # A SIGKILLed try leaves its numbered staging folders; the resumed run's must not meet them
    # (a sending thread that died on one left close() waiting forever).
    (tmp_path / ".uploads" / "0").mkdir(parents=True)
    (tmp_path / ".uploads" / "0" / "arrays-00002.npz").write_bytes(b"old")
    client = SlowClient()
    uploads = Uploads(client, "run", tmp_path)
    (tmp_path / "state.json").write_text("{}")
    uploads.send("backup", [(tmp_path / "state.json", "backup")], copy=False)
    closing = threading.Thread(target=uploads.close, daemon=True)
    closing.start()
    closing.join(timeout=30)
    assert not closing.is_alive() and client.sent == [("backup", "state.json", b"{}")]


def test_the_model_logging_is_prepared_while_training(tmp_path):
    """What logging the final model would do at the run's end, MLflow's map of every installed
    package's modules (0.3 s here), is made by ``prepare_model_logging``'s thread instead."""
    from mlflow.utils import requirements_utils

    from ktrain.tracking.run import MlflowRun

    requirements_utils._MODULES_TO_PACKAGES = requirements_utils._PACKAGES_TO_MODULES = None
    before = set(threading.enumerate())
    MlflowRun(f"sqlite:///{tmp_path}/mlflow.db", "ktrain", tmp_path).prepare_model_logging()
    for thread in set(threading.enumerate()) - before:
        thread.join(60)
    assert requirements_utils._PACKAGES_TO_MODULES is not None
    assert requirements_utils._PACKAGES_TO_MODULES.get("keras") == "keras"
