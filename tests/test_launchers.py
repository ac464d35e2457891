"""The cluster launchers: their configs compose where their plugins are not installed, and
submitit (local executor) runs a real sweep and requeues a preempted job."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import ROOT, run_sweep, script_env


@pytest.mark.parametrize(
    "option, target, setting",
    [
        ("slurm", "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher", "partition=gpu"),
        ("ray", "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher", "ray.remote.num_gpus=2"),
    ],
)
def test_launcher_config_composes_with_cfg_hydra(option, target, setting):
    process = subprocess.run(
        [sys.executable, "train.py", f"hydra/launcher={option}", f"hydra.launcher.{setting}", "--cfg", "hydra"],
        cwd=ROOT,
        env=script_env("sqlite:///unused.db"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    launcher = yaml.safe_load(process.stdout)["hydra"]["launcher"]
    assert launcher["_target_"] == target
    key, value = setting.split("=")
    node = launcher
    for part in key.split("."):
        node = node[part]
    assert str(node) == value


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_a_sweep_runs_through_submitit_as_on_slurm(tracking_uri, client, tmp_path):
    """hydra/launcher=submitit_local: submitit's local executor, the path of hydra/launcher=slurm
    without sbatch (jobs pickled, run in processes of their own, results read back)."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install -e '.[slurm]'")
    sweep = run_sweep(
        tracking_uri, tmp_path / "sweep", "hydra/launcher=submitit_local", "optimizer.learning_rate=1e-2,1e-3"
    )
    assert sweep.returncode == 0, sweep.output[-4000:]
    parent = client.get_run(sweep.parent_run_id)
    assert parent.data.tags["ktrain.sweep.launcher"] == "LocalLauncher" and parent.info.status == "FINISHED"
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{sweep.parent_run_id}'")
    assert sorted(child.data.params["optimizer.learning_rate"] for child in children) == ["0.001", "0.01"]
    assert [child.info.status for child in children] == ["FINISHED", "FINISHED"]
    assert list((tmp_path / "sweep" / ".submitit").iterdir())  # submitit's own job folders


@pytest.mark.slow
def test_a_preempted_submitit_job_is_requeued_and_resumes_its_run(tracking_uri, client, tmp_path):
    """SIGUSR2, submitit's preemption signal, in the middle of training: submitit requeues the
    job through the launcher's checkpoint hook, and the requeued job continues its child run
    from its backup, every epoch once."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install -e '.[slurm]'")
    sweep_dir = tmp_path / "sweep"
    process = subprocess.Popen(
        [
            sys.executable,
            "train.py",
            "-m",
            "hydra/launcher=submitit_local",
            "fit.epochs=30",
            "fit.verbose=2",
            "mlflow.log_model=false",
            "optimizer.learning_rate=1e-3",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        cwd=ROOT,
        env=script_env(tracking_uri, MLFLOW_EXPERIMENT_NAME="requeued"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        holder = wait_for_epochs(sweep_dir / "0", 2)
        os.kill(holder["pid"], signal.SIGUSR2)
        output = process.communicate(timeout=300)[0]
    finally:
        process.kill()
    assert process.returncode == 0, output[-4000:]
    (child,) = client.search_runs(
        [client.get_experiment_by_name("requeued").experiment_id], "tags.ktrain.sweep.job = '0'"
    )
    assert child.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(child.info.run_id, "loss")]
    assert steps == list(range(len(steps))) and len(steps) > int(child.data.tags["ktrain.resumed_at_epoch"]) >= 1
    logs = "".join(path.read_text() for path in (sweep_dir / ".submitit").rglob("*_log.out"))
    assert "this job is preempted" in logs and "Requeued job" in logs
    assert child.data.tags["ktrain.killed_by"] == "exit 144"  # the first try's end: submitit's requeue exit


def wait_for_epochs(run_dir, epochs: int, timeout: float = 180) -> dict:
    """The holder (host, pid) of the run training in ``run_dir``, once ``epochs`` are in its
    epochs.csv."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = run_dir / "epochs.csv"
        if rows.is_file() and len(rows.read_text().splitlines()) > epochs and (run_dir / "run.lock").is_file():
            return json.loads((run_dir / "run.lock").read_text())
        time.sleep(0.1)
    raise AssertionError(f"no {epochs} epochs in {run_dir} within {timeout} s")
