"""Every kind of target and every form of data survives a kill: a run SIGKILLed after two
epochs resumes to its end in the same MLflow run, every epoch logged once; and the logged
model served by ``mlflow models serve`` answers as ktrain-predict does. Slow: a run each."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from conftest import run_train, script_env
from servers import free_port
from tasks_data import data_of, digits, kinds_and_project
from test_resume import resume_to_the_end, start, wait_for_backup
from test_tasks import predicted

pytestmark = pytest.mark.slow

CASES = {
    "class": ["model=mlp", "model.hidden_units=[32]"],
    "binary": ["model=mlp", "model.hidden_units=[32]"],
    "multi_label": ["model=mlp", "model.hidden_units=[32]"],
    "number": ["model=mlp", "model.hidden_units=[32]"],
    "mask": ["model=unet", "model.filters=[8]", "data.batch_size=16"],
    "two_heads": ["data=two_heads", "model=mlp"],
    "pydataset": ["data=pydataset", "model=mlp"],
    "generator": ["data=generator", "model=mlp"],
    # a user's layer, a loss function given its keys, a metric function: checkpointed and restored
    "custom": [
        "data=pydataset",
        "model=mine",
        "compile.loss={_target_: myobjects.smoothed_crossentropy, smoothing: 0.1}",
        "compile.metrics=[myobjects.confidence, accuracy]",
    ],
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return kinds_and_project(tmp_path_factory, ("class", "binary", "multi_label", "number"))


@pytest.mark.parametrize("case", CASES)
def test_a_killed_run_of_each_kind_resumes_to_its_end(data, case, tracking_uri, client, tmp_path):
    files, folder = data
    where = data_of(files, folder, case)
    run_dir = tmp_path / "run"
    first = start(tracking_uri, *where, *CASES[case], "fit.epochs=30", "fit.verbose=2", f"hydra.run.dir={run_dir}")
    try:
        wait_for_backup(first, run_dir, 2)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    finished = resume_to_the_end(tracking_uri, run_dir)
    assert finished.returncode == 0, (finished.stdout + finished.stderr)[-4000:]
    run_id = json.loads((run_dir / "mlflow_run.json").read_text())["run_id"]
    assert client.get_run(run_id).info.status == "FINISHED"
    steps = [metric.step for metric in client.get_metric_history(run_id, "val_loss")]
    assert steps == list(range(len(steps))) and len(steps) > 2


def test_mlflow_models_serve_answers_as_ktrain_predict_does(data, tracking_uri, client, tmp_path):
    files, _ = data
    run = run_train(
        tracking_uri, tmp_path / "binary", "data=npz", f"data.path={files['binary']}", "model=mlp", "fit.epochs=4"
    )
    inputs = tmp_path / "inputs.npy"
    np.save(inputs, digits()[0][:20])
    rows = predicted(tracking_uri, run, inputs, tmp_path)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        f"runs:/{run.run_id}/model",
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=script_env(tracking_uri),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        body = json.dumps({"inputs": digits()[0][:20].tolist()}).encode()
        answer = _post(f"http://127.0.0.1:{port}/invocations", body, server, tmp_path / "serve.log")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    served = np.asarray(json.loads(answer)["predictions"]).reshape(-1)
    np.testing.assert_allclose(served, [float(row["probability"]) for row in rows], atol=1e-5)


def _post(url: str, body: bytes, server: subprocess.Popen, log) -> str:
    """The server's answer to ``body``, once it answers (it takes a few seconds to start)."""
    deadline = time.monotonic() + 180
    while True:
        try:
            request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read().decode()
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
