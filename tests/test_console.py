"""The console of a CPU-only run, prediction and export: no CUDA lines, no oneDNN or absl
banners, no library warnings, unless the environment asks for TensorFlow's own logging
(TF_CPP_MIN_LOG_LEVEL=0)."""

import subprocess
import sys

import pytest

from conftest import ROOT, script_env

BANNERS = ("cuInit", "cuda_platform.cc", "cudart_stub.cc", "oneDNN custom operations", "absl::InitializeLog")


def test_a_cpu_run_prints_no_cuda_lines_no_banners_and_no_warnings(train, tmp_path):
    # Logging the model too (MLflow warned there of a missing input example), into a new store
    # (MLflow announced the creation of its tables).
    run = train("fit.epochs=1", f"mlflow.tracking_uri=sqlite:///{tmp_path / 'new.db'}")
    out = run.stdout + run.stderr
    assert "database tables" not in out, out[-3000:]
    assert not [banner for banner in BANNERS if banner in out], out[-3000:]
    assert "Warning" not in out, out[-3000:]
    log = (run.run_dir / "train.log").read_text()
    assert "native log:" in log  # kept in the run's log instead


def test_tensorflows_own_logging_is_shown_when_asked_for(train):
    run = train("fit.epochs=1", "mlflow.log_model=false", TF_CPP_MIN_LOG_LEVEL="0")
    assert any(banner in run.stderr for banner in BANNERS), run.stderr[-3000:]


@pytest.mark.slow  # a run, a prediction and two exports (about 20 s)
def test_predict_and_export_print_only_their_own_lines(train, tracking_uri):
    run = train("fit.epochs=1", "mlflow.log_model=false")
    env = script_env(tracking_uri)
    del env["TF_CPP_MIN_LOG_LEVEL"]  # as in a user's shell: then the converters logged each step
    samples = run.run_dir / "sample_inputs.npy"
    for command in (
        ["predict.py", f"run={run.run_dir}", f"input={samples}"],
        ["export.py", f"run={run.run_dir}", "format=[saved_model,litert]"],
    ):
        done = subprocess.run(
            [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
        foreign = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("[INFO] ")]
        assert not foreign, done.stderr[-3000:]
