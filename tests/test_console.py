"""A CPU-only run's console: no CUDA lines, no oneDNN or absl banners, unless the environment
asks for TensorFlow's own logging (TF_CPP_MIN_LOG_LEVEL=0)."""

BANNERS = ("cuInit", "cuda_platform.cc", "cudart_stub.cc", "oneDNN custom operations", "absl::InitializeLog")


def test_a_cpu_run_prints_no_cuda_lines_and_no_banners(train):
    run = train("fit.epochs=1", "mlflow.log_model=false")
    out = run.stdout + run.stderr
    assert not [banner for banner in BANNERS if banner in out], out[-3000:]
    log = (run.run_dir / "train.log").read_text()
    assert "backend start-up:" in log  # kept in the run's log instead


def test_tensorflows_own_logging_is_shown_when_asked_for(train):
    run = train("fit.epochs=1", "mlflow.log_model=false", TF_CPP_MIN_LOG_LEVEL="0")
    assert any(banner in run.stderr for banner in BANNERS), run.stderr[-3000:]
