"""The cluster launcher configs compose (they run only where SLURM or a Ray cluster is)."""

import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, script_env


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
