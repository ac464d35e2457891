"""Shared fixtures: a real SQLite MLflow store per test session, and a way to run the CLI."""

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What ktrain remembers between runs (which image files decode) stays with the test session.
os.environ.setdefault("KTRAIN_CACHE_DIR", tempfile.mkdtemp(prefix="ktrain-test-cache-"))


@dataclass
class Run:
    """A finished ``train.py`` process."""

    returncode: int
    stdout: str
    stderr: str
    run_dir: Path

    @property
    def run_id(self) -> str:
        match = re.search(r"mlflow: run (\w+) in experiment", self.stdout + self.stderr)
        assert match, f"no run id printed:\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"
        return match.group(1)


def script_env(tracking_uri: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HYDRA_"))}
    env.update(MLFLOW_TRACKING_URI=tracking_uri, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3")
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def client(tracking_uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def run_train(
    tracking_uri: str, run_dir: Path, *overrides: str, check: bool = True, timeout: int = 300, **env: str
) -> Run:
    """Run ``python train.py OVERRIDES`` with its run dir at ``run_dir``."""
    process = subprocess.run(
        [sys.executable, "train.py", "fit.verbose=2", f"hydra.run.dir={run_dir}", *overrides],
        cwd=ROOT,
        env=script_env(tracking_uri, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert process.returncode == 0, f"train.py failed:\n{process.stdout[-4000:]}\n{process.stderr[-4000:]}"
    return Run(process.returncode, process.stdout, process.stderr, run_dir)


def refuse(tracking_uri: str, *args: str, script: str = "train.py", **env: str) -> tuple[str, str]:
    """Run ``train.py ARGS`` (or ``script``) on a bad input and check the form every refusal takes:
    exit 2, no traceback, exactly one ``Error:`` paragraph on stderr. Returns (it, the whole output)."""
    process = subprocess.run(
        [sys.executable, script, *args],
        cwd=ROOT,
        env=script_env(tracking_uri, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 2, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    paragraphs = [line for line in process.stderr.splitlines() if line.startswith("Error: ")]
    assert len(paragraphs) == 1, output[-4000:]
    return paragraphs[0], output


@pytest.fixture
def train(tracking_uri, tmp_path_factory):
    """``train(*overrides, check=True, **env)``: run train.py in a fresh run dir."""

    def run(*overrides: str, **kwargs) -> Run:
        return run_train(tracking_uri, tmp_path_factory.mktemp("run"), *overrides, **kwargs)

    return run


@dataclass
class Sweep:
    """A finished ``train.py -m`` process and its sweep dir."""

    returncode: int
    output: str
    sweep_dir: Path

    @property
    def parent_run_id(self) -> str:
        match = re.search(r"mlflow: sweep run (\w+) in experiment", self.output)
        assert match, f"no sweep run id printed:\n{self.output[-4000:]}"
        return match.group(1)


def run_sweep(tracking_uri: str, sweep_dir: Path, *overrides: str, timeout: int = 300, **env: str) -> Sweep:
    """Run ``python train.py -m OVERRIDES`` with its sweep dir at ``sweep_dir``; small and quiet
    by default (2 epochs, batch 64, progress once per epoch, no model logged)."""
    process = subprocess.run(
        [
            sys.executable,
            "train.py",
            "-m",
            "fit.epochs=2",
            "data.batch_size=64",
            "fit.verbose=2",
            "mlflow.log_model=false",
            f"hydra.sweep.dir={sweep_dir}",
            *overrides,
        ],
        cwd=ROOT,
        env=script_env(tracking_uri, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return Sweep(process.returncode, process.stdout, sweep_dir)


def python_elsewhere(tracking_uri: str, folder: Path, code: str, *args: str):
    """``python -c CODE ARGS`` run from ``folder``/elsewhere, a folder away from the clone (as a
    user's serving code runs); the last line it prints, read as JSON."""
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    process = subprocess.run(
        [sys.executable, "-c", code, tracking_uri, *args],
        cwd=elsewhere,
        env=script_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.splitlines()[-1])


def export(tracking_uri: str, run_dir: Path, formats: str) -> str:
    """``export.py run=RUN_DIR format=[FORMATS]`` run to its end, which must succeed; its stderr
    (the log of each format's check)."""
    process = subprocess.run(
        [sys.executable, "export.py", f"run={run_dir}", f"format=[{formats}]"],
        cwd=ROOT,
        env=script_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, (process.stdout + process.stderr)[-4000:]
    return process.stderr
