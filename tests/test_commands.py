"""The commands speak in their own name: ``--help``, the command that continues a stopped run
and every message that shows a command say ``ktrain-train`` (``ktrain-predict``,
``ktrain-export``) to a user of the installed commands, and ``python train.py`` in the clone."""

import signal
import subprocess
import sys

from conftest import ROOT, script_env
from test_resume import wait_for_backup
from test_user_project import BIN, command


def test_help_names_the_command_the_user_typed(tmp_path, tracking_uri):
    for name in ("ktrain-train", "ktrain-predict", "ktrain-export"):
        helped = command(name, "--help", cwd=tmp_path, tracking_uri=tracking_uri)
        assert helped.returncode == 0, helped.stderr[-2000:]
        assert f"{name} " in helped.stdout and "python " not in helped.stdout, helped.stdout[:500]
    for script in ("train.py", "predict.py", "export.py"):
        helped = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True)
        assert f"python {script} " in helped.stdout and "ktrain-" not in helped.stdout.split("==")[0]


def test_a_refusal_names_the_installed_command(tmp_path, tracking_uri):
    refused = command("ktrain-train", f"resume={tmp_path}", cwd=tmp_path, tracking_uri=tracking_uri)
    assert refused.returncode == 2
    assert "Give the dir that ktrain-train printed as 'run dir:'" in refused.stderr


def test_a_stopped_run_of_the_installed_command_is_continued_with_it(tmp_path, tracking_uri):
    overrides = ["fit.epochs=50", "fit.verbose=0", "mlflow.log_model=false", f"hydra.run.dir={tmp_path}"]
    process = subprocess.Popen(
        [str(BIN / "ktrain-train"), *overrides],
        cwd=tmp_path, env=script_env(tracking_uri), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for_backup(process, tmp_path, 1)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=120)[0]
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert f"continue it with: ktrain-train resume={tmp_path}" in output
