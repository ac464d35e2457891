"""A run that loses its machine and its disk continues from the tracking server alone: a real
``mlflow server --serve-artifacts`` on 127.0.0.1; the run SIGKILLed, its run dir deleted,
``resume=<run id>`` from another folder. And the refusals of a resume by run id."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, refuse, script_env
from test_resume import start
from test_tracking_server import server  # noqa: F401 (the fixture)

EPOCHS = 10  # the first process is killed at epoch 2: the rest leaves the test's polls time under load
OVERRIDES = (
    "fit.verbose=2",
    f"fit.epochs={EPOCHS}",
    "fit.steps_per_epoch=5",
    "~callbacks.early_stopping",  # every epoch is trained, and counted below
    "mlflow.log_model=false",
)
PER_EPOCH = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")


def wait_for_artifacts(client, run_id: str, process, epoch: int) -> dict:
    """Wait until MLflow holds the run's backup of ``epoch`` and its best checkpoint while
    ``process`` still trains; return the uploaded state."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()[-3000:]
        try:
            state = json.loads(Path(client.download_artifacts(run_id, "backup/state.json")).read_text())
            checkpoints = {a.path for a in client.list_artifacts(run_id, "checkpoints")}
        except Exception:
            state, checkpoints = {"epoch": 0}, set()
        if state["epoch"] >= epoch and "checkpoints/best.keras" in checkpoints:
            return state
        time.sleep(0.3)
    raise AssertionError(f"no backup of epoch {epoch} in MLflow")


def run_id_of(process, run_dir) -> str:
    deadline = time.monotonic() + 120
    while not (run_dir / "mlflow_run.json").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    return json.loads((run_dir / "mlflow_run.json").read_text())["run_id"]


@pytest.fixture(scope="module")
def lost_and_resumed(server, tmp_path_factory):  # noqa: F811
    from mlflow import MlflowClient

    url, _ = server
    client = MlflowClient(url)
    run_dir = tmp_path_factory.mktemp("lost") / "run"
    first = start(url, *OVERRIDES, f"hydra.run.dir={run_dir}")
    run_id = run_id_of(first, run_dir)
    uploaded = wait_for_artifacts(client, run_id, first, 2)  # while the run still trains
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    shutil.rmtree(run_dir)  # the node is gone with its disk
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    resumed = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), f"resume={run_id}"],
        cwd=elsewhere,
        env=script_env(url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return client, run_id, uploaded, resumed, elsewhere


def test_a_checkpoint_and_the_backup_are_in_mlflow_while_the_run_trains(lost_and_resumed):
    _, _, uploaded, _, _ = lost_and_resumed
    assert uploaded["epoch"] >= 2


def test_resume_by_run_id_on_an_empty_disk_finishes_the_same_run(lost_and_resumed):
    client, run_id, _, resumed, elsewhere = lost_and_resumed
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-4000:]
    assert f"mlflow: run {run_id} in experiment 'ktrain'" in output and "(reopened)" in output
    assert "restored weights, optimizer state and callbacks" in output
    assert "Downloading artifacts" not in output and "View run" not in output  # MLflow's own lines
    assert client.get_run(run_id).info.status == "FINISHED"
    assert (elsewhere / "outputs" / "resumed" / run_id / "model.keras").is_file()
    assert "ktrain.holder" not in client.get_run(run_id).data.tags


def test_every_epoch_is_in_mlflow_exactly_once(lost_and_resumed):
    client, run_id, _, _, _ = lost_and_resumed
    for key in PER_EPOCH:
        assert [m.step for m in client.get_metric_history(run_id, key)] == list(range(EPOCHS)), key


def test_resume_of_a_run_id_the_server_does_not_know_is_refused(server, tmp_path):  # noqa: F811
    unknown = "0123456789abcdef0123456789abcdef"
    message, _ = refuse(server[0], f"resume={unknown}", f"hydra.run.dir={tmp_path / 'run'}")
    assert f"resume={unknown} is neither a run dir nor the id of a run at the tracking server {server[0]}" in message


def test_resume_of_a_run_without_an_uploaded_backup_says_what_it_logged(server, tmp_path):  # noqa: F811
    from mlflow import MlflowClient

    client = MlflowClient(server[0])
    run_id = client.create_run(client.create_experiment("no_backup")).info.run_id
    for epoch in range(3):
        client.log_metric(run_id, "val_loss", 1.0 / (epoch + 1), step=epoch)
    (tmp_path / "notes.txt").write_text("hi")
    client.log_artifact(run_id, str(tmp_path / "notes.txt"))
    client.set_terminated(run_id, "KILLED")
    message, _ = refuse(server[0], f"resume={run_id}", f"hydra.run.dir={tmp_path / 'run'}")
    assert f"MLflow run {run_id} (KILLED) has no uploaded backup (backup/state.json)" in message
    assert "it logged notes.txt and 3 epochs of metrics" in message
