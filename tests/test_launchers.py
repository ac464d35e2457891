"""The cluster launchers: their configs compose where their plugins are not installed, and
submitit (local executor) runs a real sweep."""

import subprocess
import sys

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
