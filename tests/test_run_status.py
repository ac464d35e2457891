"""MLflow status tells the truth: FAILED with the reason, KILLED on Ctrl-C, checkpoints kept."""

import signal
import subprocess
import sys
import time

from conftest import ROOT, Run, script_env


def test_a_run_that_raises_is_failed_with_the_reason(train, client):
    # The schema takes any loss name; Keras refuses an unknown one once the run has started.
    run = train("fit.epochs=2", "compile.loss=not_a_loss", check=False)
    assert run.returncode != 0
    failed = client.get_run(run.run_id)
    assert failed.info.status == "FAILED"
    assert "not_a_loss" in failed.data.tags["ktrain.error"]
    assert "train.log" in {a.path for a in client.list_artifacts(failed.info.run_id)}


def test_ctrl_c_ends_the_run_killed_and_keeps_its_checkpoints(tracking_uri, tmp_path, client):
    process = subprocess.Popen(
        [sys.executable, "train.py", "fit.verbose=2", "fit.epochs=200", "~callbacks.early_stopping",
         f"hydra.run.dir={tmp_path}"],
        cwd=ROOT, env=script_env(tracking_uri), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
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
    assert [a.path for a in client.list_artifacts(run_id, "checkpoints")] == ["checkpoints/best.keras"]
    assert client.get_metric_history(run_id, "val_loss")
