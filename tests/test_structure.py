"""The shape of the package: a run saved by an earlier layout resumes, the validated config is
frozen, tracking/ speaks to MLflow only, and no two classes share a name."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, script_env

FIXTURE = ROOT / "tests" / "fixtures" / "run_before_packages"


def test_a_run_saved_before_the_package_layout_resumes(tracking_uri, client, tmp_path):
    """The fixture is a run dir that ktrain wrote when its modules lay loose in ``ktrain/``
    (its config names ``ktrain.data.arrays.DigitsData``, ``ktrain.models.small.mlp``,
    ``ktrain.schedules.constant`` and ``ktrain.callbacks.ModelCheckpoint``), with the backup of
    its one epoch. Resumed with more epochs, it restores that backup and trains on."""
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE, run_dir)
    experiment = client.get_experiment_by_name("ktrain") or client.get_experiment(client.create_experiment("ktrain"))
    run = client.create_run(experiment.experiment_id, run_name="saved before the packages")
    client.set_terminated(run.info.run_id, "FINISHED")
    record = {"run_id": run.info.run_id, "tracking_uri": tracking_uri, "experiment_id": experiment.experiment_id}
    (run_dir / "mlflow_run.json").write_text(json.dumps(record))

    process = subprocess.run(
        [sys.executable, "train.py", f"resume={run_dir}", "fit.epochs=2"],
        cwd=ROOT,
        env=script_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert "restored weights, optimizer state and callbacks from the backup of epoch 1" in output
    assert "continuing at epoch 2 of 2" in output
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [0, 1]
    assert (run_dir / "model.keras").is_file()
