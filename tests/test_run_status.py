"""MLflow status tells the truth: KILLED on Ctrl-C, checkpoints kept; runs at once all
recorded; metrics MLflow refuses fail the training. (FAILED with the reason: test_bad_runs.py.)"""

import signal
import subprocess
import sys
import time

import mlflow
import pytest

from conftest import ROOT, Run, script_env


def test_ctrl_c_ends_the_run_killed_and_keeps_its_checkpoints(tracking_uri, tmp_path, client):
    process = subprocess.Popen(
        [
            sys.executable,
            "train.py",
            "fit.verbose=2",
            "fit.epochs=200",
            "~callbacks.early_stopping",
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=ROOT,
        env=script_env(tracking_uri),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    checkpoint = tmp_path / "checkpoints" / "best.keras"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), "no checkpoint written within 120 s"
    time.sleep(1)  # let the epoch's metrics reach the log queue
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0

    run_id = Run(process.returncode, output, "", tmp_path).run_id
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert checkpoint.exists()
    assert "checkpoints/best.keras" in {a.path for a in client.list_artifacts(run_id, "checkpoints")}
    assert client.get_metric_history(run_id, "val_loss")


def test_two_runs_starting_at_once_on_a_new_sqlite_store_are_both_recorded(tmp_path):
    from mlflow import MlflowClient

    store = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"  # both processes find no tables yet
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "train.py",
                "fit.verbose=0",
                "fit.epochs=2",
                "data.batch_size=64",
                "mlflow.log_model=false",
                f"hydra.run.dir={tmp_path / name}",
            ],
            cwd=ROOT,
            env=script_env(store),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("first", "second")
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-4000:]
    client = MlflowClient(tracking_uri=store)
    for name, output in zip(("first", "second"), outputs):
        run = client.get_run(Run(0, output, "", tmp_path / name).run_id)
        assert run.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [0, 1]
        assert "checkpoints/best.keras" in {a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")}


def test_an_epoch_whose_metrics_mlflow_cannot_write_fails_the_training(tmp_path):
    """The metrics go through MLflow's buffered asynchronous queue; a write it refuses must
    still end training with the error, as a synchronous write would."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from ktrain.callbacks import EpochLog, RunBackup
    from ktrain.data.arrays import DigitsData
    from ktrain.models.small import simple_cnn
    from ktrain.tracking.metrics import MlflowMetricsLogger

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = MlflowClient()
    run_id = client.create_run(client.create_experiment("refused")).info.run_id
    client.delete_run(run_id)  # MLflow refuses metrics for a deleted run
    data = DigitsData(batch_size=64)
    model = simple_cnn(data.spec.input_shape, data.spec.num_classes)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    epoch_log = EpochLog()
    backup = RunBackup(tmp_path / "backup", [epoch_log], epochs=2, restore=False)
    with pytest.raises(MlflowException, match="must be in the 'active' state"):
        model.fit(
            **data.split("train").fit_args(),
            epochs=2,
            verbose=0,
            callbacks=[epoch_log, backup, MlflowMetricsLogger(run_id, epoch_log, backup)],
        )


def test_runs_of_one_seed_get_names_of_their_own_and_keep_the_seeds_draws(tmp_path):
    # MLflow draws a run's name from Python's random, which the run's seed has set.
    import random

    from ktrain.tracking.run import MlflowRun

    names, draws = [], []
    for number in range(2):
        random.seed(42)
        with MlflowRun(
            f"sqlite:///{tmp_path}/mlflow.db", "seeded", tmp_path / str(number), system_metrics=False
        ) as run:
            draws.append(random.random())
        names.append(mlflow.get_run(run.run_id).info.run_name)
    assert names[0] != names[1] and draws[0] == draws[1]
