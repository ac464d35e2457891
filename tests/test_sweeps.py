"""Sweeps (-m): one parent MLflow run per sweep, a child run per job, a summary at the end."""

import csv
import json
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml

from conftest import ROOT, run_sweep


def sweep_runs(client, parent_run_id):
    """The parent run and its children in job order."""
    parent = client.get_run(parent_run_id)
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'")
    return parent, sorted(children, key=lambda run: int(run.data.tags["ktrain.sweep.job"]))


# --- a 2x2 grid, jobs in this process -----------------------------------------------------


@pytest.fixture(scope="module")
def grid(tracking_uri, tmp_path_factory):
    return run_sweep(
        tracking_uri,
        tmp_path_factory.mktemp("grid") / "sweep",
        "optimizer.learning_rate=1e-2,3e-3",
        "schedule=constant,cosine",
    )


@pytest.fixture(scope="module")
def grid_runs(grid, client):
    assert grid.returncode == 0, grid.output[-4000:]
    return sweep_runs(client, grid.parent_run_id)


def test_a_grid_sweep_is_one_parent_run_with_a_child_run_per_job(grid_runs):
    parent, children = grid_runs
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["ktrain.sweep.launcher"] == "BasicLauncher"
    assert [child.info.run_name for child in children] == [
        "optimizer.learning_rate=0.01 schedule=constant",
        "optimizer.learning_rate=0.01 schedule=cosine",
        "optimizer.learning_rate=0.003 schedule=constant",
        "optimizer.learning_rate=0.003 schedule=cosine",
    ]
    assert [child.info.status for child in children] == ["FINISHED"] * 4
    params = children[3].data.params  # the full config, as for any run
    assert (params["optimizer.learning_rate"], params["schedule"], params["fit.epochs"]) == ("0.003", "cosine", "2")
    assert params["model"] == "simple_cnn" and params["data.class_count"] == "10"


def test_the_lr_metric_shows_the_schedule_and_a_schedule_turns_reduce_lr_off(grid, grid_runs, client):
    _, (constant, cosine, *_) = grid_runs

    def lr(run):
        return [m.value for m in client.get_metric_history(run.info.run_id, "lr")]

    assert lr(constant) == pytest.approx([0.01, 0.01])
    assert lr(cosine) == pytest.approx([0.01, 0.005])  # cosine decay is halfway at the second of two epochs
    assert "callbacks.reduce_lr.factor" in constant.data.params
    assert not any(key.startswith("callbacks.reduce_lr") for key in cosine.data.params)
    assert grid.output.count("schedule=cosine sets the learning rate, so callbacks.reduce_lr is off in this run") == 2


def test_a_saved_model_keeps_its_schedule_as_stock_keras(grid):
    with zipfile.ZipFile(grid.sweep_dir / "1" / "model.keras") as saved:
        config = json.loads(saved.read("config.json"))
    learning_rate = config["compile_config"]["optimizer"]["config"]["learning_rate"]
    assert (learning_rate["module"], learning_rate["class_name"]) == ("keras.optimizers.schedules", "CosineDecay")


def test_the_parent_names_the_best_job_by_the_monitor(grid_runs):
    parent, children = grid_runs
    best = min(children, key=lambda child: child.data.metrics["best_val_loss"])
    assert parent.data.tags["ktrain.best_run_id"] == best.info.run_id
    assert parent.data.tags["ktrain.best_overrides"] == best.info.run_name
    assert parent.data.tags["ktrain.best_job"] == best.data.tags["ktrain.sweep.job"]
    assert parent.data.metrics["best_val_loss"] == pytest.approx(best.data.metrics["best_val_loss"])
    assert (parent.data.metrics["jobs_finished"], parent.data.metrics["jobs_failed"]) == (4, 0)


def test_the_summary_table_and_plot_are_in_the_sweep_dir_and_on_the_parent(grid, grid_runs, client):
    parent, children = grid_runs
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"sweep_summary.csv", "sweep_summary.md", "sweep_summary.png", "multirun.yaml"} <= artifacts

    rows = list(csv.DictReader((grid.sweep_dir / "sweep_summary.csv").open()))
    assert [row["run_id"] for row in rows] == [child.info.run_id for child in children]
    for row, child in zip(rows, children):
        assert (row["job"], row["overrides"], row["status"], row["epochs"]) == (
            child.data.tags["ktrain.sweep.job"],
            child.info.run_name,
            "FINISHED",
            "2",
        )
        for metric in ("best_val_loss", "test_accuracy", "test_loss"):
            assert float(row[metric]) == pytest.approx(child.data.metrics[metric])
        assert float(row["wall_time_s"]) > 0

    table = (grid.sweep_dir / "sweep_summary.md").read_text().splitlines()
    assert table[0] == (
        "| job | overrides | status | best_val_loss | test_accuracy | test_loss | epochs | wall_time_s | run_id |"
    )
    assert len(table) == 2 + len(children)
    assert (grid.sweep_dir / "sweep_summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


BROWSER_MISSING = [tool for tool in ("chromium", "chromedriver") if shutil.which(tool) is None]


@pytest.mark.slow
@pytest.mark.skipif(
    bool(BROWSER_MISSING),
    reason=f"{' and '.join(BROWSER_MISSING)} not installed (Debian: "
    "apt-get install -y chromium chromium-driver); the MLflow UI check drives a headless browser",
)
def test_the_mlflow_ui_shows_the_jobs_and_their_metrics(grid, grid_runs, tracking_uri, tmp_path):
    screenshot = tmp_path / "mlflow_ui.png"
    process = subprocess.run(
        [
            sys.executable,
            "scripts/check_mlflow_ui.py",
            "--backend-store-uri",
            tracking_uri,
            "--parent-run-id",
            grid.parent_run_id,
            "--screenshot",
            str(screenshot),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    _, children = grid_runs
    for child in children:
        assert f"found run {child.info.run_name}" in process.stdout
    assert "found metric best_val_loss" in process.stdout and "found metric lr" in process.stdout
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- failed jobs --------------------------------------------------------------------------


def test_a_sweep_whose_every_job_fails_ends_failed_and_exits_1(tracking_uri, tmp_path, client):
    # Jobs that fail as they train: a sweep whose every job validation refuses is refused before
    # its parent run exists (test_bad_inputs.py[a sweep whose every job is refused]).
    sweep = run_sweep(tracking_uri, tmp_path / "sweep", "optimizer=sgd", "optimizer.learning_rate=1e8,1e9")
    assert sweep.returncode == 1
    assert "Traceback" not in sweep.output
    assert "job 0 (optimizer.learning_rate=100000000.0) refused: the training loss became NaN" in sweep.output

    parent, children = sweep_runs(client, sweep.parent_run_id)
    assert parent.info.status == "FAILED"
    assert parent.data.tags["ktrain.error"] == "every job failed (2)"
    assert [child.info.status for child in children] == ["FAILED", "FAILED"]
    assert "the training loss became NaN in epoch 1" in children[1].data.tags["ktrain.error"]
    assert children[1].data.params["optimizer.learning_rate"] == "1000000000.0"  # its config, though it failed
    assert "ktrain.best_run_id" not in parent.data.tags


# --- an Optuna search ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def optuna_search(tracking_uri, tmp_path_factory):
    return run_sweep(
        tracking_uri, tmp_path_factory.mktemp("optuna") / "sweep", "hparams_search=optuna", "hydra.sweeper.n_trials=3"
    )


def test_an_optuna_search_runs_its_trials_as_child_runs(optuna_search, client):
    assert optuna_search.returncode == 0, optuna_search.output[-4000:]
    assert "new trials, minimize, val_loss, sampler TPESampler, pruner MedianPruner" in optuna_search.output
    parent, children = sweep_runs(client, optuna_search.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["ktrain.sweep.sweeper"] == "KtrainOptunaSweeper"
    assert len(children) == 3 and {child.info.status for child in children} == {"FINISHED"}
    for child in children:
        params = child.data.params
        assert 1e-4 <= float(params["optimizer.learning_rate"]) <= 1e-1
        assert params["schedule"] in {"constant", "cosine", "exponential", "warmup_cosine"}
        assert params["data.batch_size"] in {"32", "64", "128"}
        assert child.info.run_name.startswith("optimizer.learning_rate=")


def test_optuna_and_the_parent_agree_on_the_best_trial(optuna_search, client):
    parent, children = sweep_runs(client, optuna_search.parent_run_id)
    results = yaml.safe_load((optuna_search.sweep_dir / "optimization_results.yaml").read_text())
    best = next(child for child in children if child.info.run_id == parent.data.tags["ktrain.best_run_id"])
    assert results["best_value"] == pytest.approx(best.data.metrics["best_val_loss"])
    assert results["best_value"] == pytest.approx(min(c.data.metrics["best_val_loss"] for c in children))
    assert float(best.data.params["optimizer.learning_rate"]) == pytest.approx(
        results["best_params"]["optimizer.learning_rate"]
    )
    assert best.data.params["schedule"] == results["best_params"]["schedule"]
    assert "optimization_results.yaml" in {a.path for a in client.list_artifacts(parent.info.run_id)}
