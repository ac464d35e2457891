"""What a recorded run sends to MLflow while it trains, by its settings: with
``mlflow.checkpoints=every`` the newest ``keep_checkpoints`` epochs' checkpoints; a backup over
``backup_every_epoch_mb`` only on ``backup_interval_s`` and when the run stops; and a chosen
``stop_signal`` (a scheduler's warning) ending the run KILLED with its backup uploaded."""

import json
import signal
from pathlib import Path

import pytest

from test_resume import start, wait_for_backup


def test_the_every_policy_keeps_the_newest_epochs_checkpoints(train, client):
    run = train(
        "fit.epochs=4",
        "fit.steps_per_epoch=3",
        "mlflow.log_model=false",
        "mlflow.checkpoints=every",
        "mlflow.keep_checkpoints=2",
        "~callbacks.early_stopping",
    )
    kept = [artifact.path for artifact in client.list_artifacts(run.run_id, "checkpoints/epochs")]
    assert kept == ["checkpoints/epochs/epoch-00003.keras", "checkpoints/epochs/epoch-00004.keras"]


@pytest.mark.slow
def test_a_large_backup_waits_for_its_interval_and_a_stop_signal_sends_it(tracking_uri, client, tmp_path):
    process = start(
        tracking_uri,
        "fit.verbose=2",
        "fit.epochs=1000",  # stopped by the signal, however slowly the test's checks come
        "~callbacks.early_stopping",
        "fit.steps_per_epoch=3",
        "mlflow.log_model=false",
        "mlflow.backup_every_epoch_mb=0",  # every backup counts as large,
        "mlflow.backup_interval_s=3600",  # and goes up hourly
        "stop_signal=SIGUSR1",
        f"hydra.run.dir={tmp_path}",
    )
    try:
        wait_for_backup(process, tmp_path, 3)
        run_id = json.loads((tmp_path / "mlflow_run.json").read_text())["run_id"]
        assert client.list_artifacts(run_id, "backup") == []  # three epochs in, none sent
        process.send_signal(signal.SIGUSR1)
        output = process.communicate(timeout=120)[0]
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGUSR1, output[-3000:]
    assert "run stopped by SIGUSR1" in output and f"continue it with: python train.py resume={tmp_path}" in output
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["ktrain.killed_by"] == "SIGUSR1"
    uploaded = json.loads(Path(client.download_artifacts(run_id, "backup/state.json")).read_text())
    assert uploaded["epoch"] == json.loads((tmp_path / "backup" / "state.json").read_text())["epoch"] >= 3
