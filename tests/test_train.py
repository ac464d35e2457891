"""The default run, end to end: digits, simple CNN, a real SQLite MLflow store."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, run_train, script_env


@pytest.fixture(scope="module")
def default_run(tracking_uri, tmp_path_factory):
    """``python train.py`` as the README gives it (progress printed once per epoch)."""
    return run_train(tracking_uri, tmp_path_factory.mktemp("default_run"), timeout=600)


@pytest.fixture(scope="module")
def mlflow_run(default_run, client):
    return client.get_run(default_run.run_id)


def test_default_run_reaches_the_promised_test_accuracy(mlflow_run):
    assert mlflow_run.info.status == "FINISHED"
    assert mlflow_run.data.metrics["test_accuracy"] >= 0.95


def test_prints_config_tree_run_dir_run_id_and_ui_command(default_run, tracking_uri):
    out = default_run.stdout + default_run.stderr
    assert "config" in out and "├── data" in out and "learning_rate: 0.001" in out
    # Captured, not a terminal: whole values, however long the run dir's path.
    assert f"filepath: {default_run.run_dir}/checkpoints/best.keras" in out
    assert f"run dir:       {default_run.run_dir}" in out
    assert f"MLflow UI:     mlflow ui --backend-store-uri {tracking_uri}" in out
    assert "Epoch 1/20" in out


def test_params_hold_the_flattened_config_and_derived_facts(mlflow_run):
    params = mlflow_run.data.params
    assert params["optimizer.learning_rate"] == "0.001"
    assert params["model"] == "simple_cnn"
    assert params["model.filters"] == "[32, 64]"
    assert params["callbacks.early_stopping.patience"] == "5"
    assert params["data.batch_size"] == "32"
    assert params["data.class_count"] == "10"
    assert (params["data.train_size"], params["data.val_size"], params["data.test_size"]) == ("1257", "180", "360")
    assert int(params["model.parameter_count"]) > 10_000


def test_every_epoch_logs_keras_metrics_and_lr_with_step_epoch(mlflow_run, client, default_run):
    history = json.loads((default_run.run_dir / "history.json").read_text())
    epochs = history["epoch"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        logged = client.get_metric_history(mlflow_run.info.run_id, key)
        assert [m.step for m in logged] == epochs, key
    lr = [m.value for m in client.get_metric_history(mlflow_run.info.run_id, "lr")]
    assert lr[0] == pytest.approx(1e-3)
    for key in ("test_loss", "test_accuracy", "best_val_loss"):
        assert key in mlflow_run.data.metrics
    assert mlflow_run.data.metrics["best_val_loss"] == pytest.approx(min(history["val_loss"]))


def test_artifacts_hold_config_summary_checkpoint_history_and_class_names(mlflow_run, client):
    run_id = mlflow_run.info.run_id
    top = {a.path for a in client.list_artifacts(run_id)}
    assert {
        "hydra",
        "checkpoints",
        "model_summary.txt",
        "history.json",
        "history.csv",
        "history.png",
        "class_names.json",
        "train.log",
    } <= top
    assert {a.path for a in client.list_artifacts(run_id, "hydra")} >= {
        "hydra/config.yaml",
        "hydra/overrides.yaml",
        "hydra/hydra.yaml",
    }
    artifacts = [a.path for a in client.list_artifacts(run_id, "checkpoints")]
    assert artifacts == ["checkpoints/best.keras", "checkpoints/last.keras"]
    names = json.loads(Path(client.download_artifacts(run_id, "class_names.json")).read_text())
    assert names == [str(d) for d in range(10)]


def test_tags_record_versions_and_overrides(mlflow_run):
    tags = mlflow_run.data.tags
    assert tags["ktrain.overrides"] == "fit.verbose=2"
    assert tags["keras.backend"] == "tensorflow"
    for key in ("ktrain.version", "keras.version", "tensorflow.version"):
        assert tags[key]


def test_logged_model_predicts_through_pyfunc(mlflow_run, tracking_uri):
    import mlflow
    from sklearn.datasets import load_digits

    mlflow.set_tracking_uri(tracking_uri)
    digits = load_digits()
    pixels = (digits.images[:50, ..., None] * (255 / 16)).astype("float32")
    model = mlflow.pyfunc.load_model(f"runs:/{mlflow_run.info.run_id}/model")
    predicted = np.asarray(model.predict(pixels)).argmax(axis=1)
    assert (predicted == digits.target[:50]).mean() >= 0.9


def test_run_dir_holds_model_checkpoint_and_history(default_run):
    files = {p.name for p in default_run.run_dir.iterdir()}
    assert {
        "model.keras",
        "history.json",
        "history.csv",
        "history.png",
        "epochs.csv",
        "model_summary.txt",
        "class_names.json",
        "train.log",
        "checkpoints",
    } <= files
    assert (default_run.run_dir / "checkpoints" / "best.keras").stat().st_size > 0
    header = (default_run.run_dir / "history.csv").read_text().splitlines()[0]
    assert header.startswith("epoch,") and "val_accuracy" in header


GC_PROBE = """
import gc, runpy, sys
import keras
import ktrain.cli.train

run, fit = ktrain.cli.train.run, keras.Model.fit

def probed_run(cfg):
    print("collector on at startup:", gc.isenabled())
    return run(cfg)

def probed_fit(self, *args, **kwargs):
    print("collector on at fit:", gc.isenabled(), "startup objects frozen:", gc.get_freeze_count() > 0)
    return fit(self, *args, **kwargs)

ktrain.cli.train.run, keras.Model.fit = probed_run, probed_fit
sys.argv[0] = "train.py"
runpy.run_path("train.py", run_name="__main__")
"""


def test_the_garbage_collector_is_off_during_startup_and_on_while_training(tracking_uri, tmp_path):
    """Off while the script starts (its full passes would walk every object TensorFlow and
    MLflow made, again and again), and on again for training, or a long run's garbage piles up."""
    process = subprocess.run(
        [sys.executable, "-c", GC_PROBE, "fit.epochs=1", "mlflow.log_model=false", f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        env=script_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-4000:]
    assert "collector on at startup: False" in process.stdout
    assert "collector on at fit: True startup objects frozen: True" in process.stdout
