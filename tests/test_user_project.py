"""ktrain as a framework for a user's own project: the example project of the README
(examples/project: its own model builder, data module and experiment) copied to a temporary
folder outside the clone and run with the ``ktrain-train`` and ``ktrain-predict`` commands.

By default the commands are the ones this environment installed; ``.ci/run`` runs this file
again with ``KTRAIN_INSTALLED_BIN`` naming the ``bin/`` of a fresh virtual environment that
holds only the built wheel.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, script_env

EXAMPLE = ROOT / "examples" / "project"
FILES = ["mymodels.py", "mydata.py", "conf/model/mine.yaml", "conf/data/wine.yaml", "conf/experiment/mine.yaml"]
BIN = Path(os.environ.get("KTRAIN_INSTALLED_BIN", Path(sys.executable).parent))


def command(name: str, *args: str, cwd: Path, tracking_uri: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / name), *args], cwd=cwd, env=script_env(tracking_uri), capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def project(tmp_path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "project")
    return tmp_path / "project"


def test_the_readme_shows_the_example_project_as_it_is():
    readme = (ROOT / "README.md").read_text()
    for name in FILES:
        assert (EXAMPLE / name).read_text().strip() in readme, f"README.md does not show examples/project/{name}"


def test_a_user_project_trains_its_own_model_and_predicts(project, tracking_uri, client):
    trained = command("ktrain-train", "experiment=mine", "hydra.run.dir=run", cwd=project, tracking_uri=tracking_uri)
    assert trained.returncode == 0, trained.stderr[-3000:]
    run_id = re.search(r"MLflow run id: (\w+)", trained.stdout + trained.stderr).group(1)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert (run.data.params["model"], run.data.params["data"], run.data.params["model.width"]) == ("mine", "wine", "32")
    assert run.data.metrics["test_accuracy"] > 0.8

    sys.path.insert(0, str(project))
    try:
        from mydata import Wine
    finally:
        sys.path.remove(str(project))
    np.save(project / "wine.npy", Wine().split("test").x[:5])
    predicted = command(
        "ktrain-predict", "run=run", "input=wine.npy", "output=predictions.csv", cwd=project, tracking_uri=tracking_uri
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    rows = (project / "predictions.csv").read_text().splitlines()
    assert rows[0] == "index,label,score" and len(rows) == 6
    assert {row.split(",")[1] for row in rows[1:]} <= {"barolo", "grignolino", "barbera"}


def test_a_user_project_sweeps_its_own_experiment(project, tracking_uri, client):
    swept = command(
        "ktrain-train", "-m", "experiment=mine", "optimizer.learning_rate=1e-2,1e-3", "fit.epochs=2",
        "mlflow.log_model=false", "hydra.sweep.dir=sweep", cwd=project, tracking_uri=tracking_uri,
    )  # fmt: skip
    output = swept.stdout + swept.stderr
    assert swept.returncode == 0, output[-3000:]
    parent_id = re.search(r"mlflow: sweep run (\w+)", output).group(1)
    children = client.search_runs(
        [client.get_run(parent_id).info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    assert sorted(child.data.params["optimizer.learning_rate"] for child in children) == ["0.001", "0.01"]
    assert [child.info.status for child in children] == ["FINISHED", "FINISHED"]


def test_a_user_project_takes_every_keras_argument_and_refuses_a_typo(project, tracking_uri, client):
    keras_arguments = [
        "+optimizer.use_ema=true",
        "+fit.validation_batch_size=64",
        "+compile.weighted_metrics=[accuracy]",
    ]
    trained = command("ktrain-train", "experiment=mine", "fit.epochs=2", "mlflow.log_model=false", *keras_arguments,
                      "hydra.run.dir=run", cwd=project, tracking_uri=tracking_uri)  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    run = client.get_run(re.search(r"MLflow run id: (\w+)", trained.stdout + trained.stderr).group(1))
    assert run.info.status == "FINISHED" and run.data.params["optimizer.use_ema"] == "True"
    assert "test_weighted_accuracy" in run.data.metrics
    refused = command("ktrain-train", "experiment=mine", "fit.epoch=3", cwd=project, tracking_uri=tracking_uri)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "did you mean epochs?" in refused.stderr
    misspelt = command("ktrain-train", "model=mine", "model.widht=8", cwd=project, tracking_uri=tracking_uri)
    assert misspelt.returncode == 2 and "'model.widht' (did you mean width?)" in misspelt.stderr  # its config's key


def test_a_users_config_folder_is_found_and_wins_over_ktrains(project, tmp_path, tracking_uri):
    (project / "conf" / "model" / "simple_cnn.yaml").write_text(
        "_target_: ktrain.models.small.simple_cnn\nfilters: [8]\ndense_units: 16\ndropout: 0.0\n"
        "preprocessing: rescale\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd, flags in ((project, []), (elsewhere, ["--config-dir", str(project / "conf")])):
        shown = command("ktrain-train", *flags, "experiment=mine", "model=simple_cnn", "--cfg", "job", cwd=cwd,
                        tracking_uri=tracking_uri)  # fmt: skip
        assert shown.returncode == 0, shown.stderr[-3000:]
        assert "filters:\n  - 8\n  dense_units: 16" in shown.stdout  # the user's simple_cnn, not ktrain's
        assert "_target_: mydata.Wine" in shown.stdout  # the user's data option, from their experiment
    helped = command("ktrain-train", "--help", cwd=project, tracking_uri=tracking_uri)
    assert "data: digits, image_folder, npz, synthetic, table, text_folder, wine\n" in helped.stdout


def test_a_missing_config_dir_is_refused_in_one_paragraph(tmp_path, tracking_uri):
    refused = command("ktrain-train", "--config-dir", "nowhere", cwd=tmp_path, tracking_uri=tracking_uri)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("Error: --config-dir nowhere: no such folder.")
