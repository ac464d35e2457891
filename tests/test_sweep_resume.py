"""A sweep killed halfway continues: ``train.py -m resume=<sweep dir>`` skips the jobs that
finished, resumes the one the kill stopped, runs the rest, in the same parent MLflow run."""

import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, Sweep, refuse, script_env
from test_sweeps import sweep_runs

GRID = ("optimizer.learning_rate=1e-2,3e-3", "schedule=constant,cosine")
EPOCHS = 3


def finished_children(client, experiment_name="ktrain"):
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    runs = client.search_runs([experiment.experiment_id], "tags.`ktrain.sweep.job` != ''")
    return [run for run in runs if run.info.status == "FINISHED"]


@pytest.fixture(scope="module")
def killed_and_continued(tracking_uri, client, tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("sweep") / "sweep"
    before = {run.info.run_id for run in finished_children(client)}
    process = subprocess.Popen(
        [sys.executable, "train.py", "-m", f"fit.epochs={EPOCHS}", "fit.steps_per_epoch=5", "fit.verbose=2",
         "mlflow.log_model=false", f"hydra.sweep.dir={sweep_dir}", *GRID],
        cwd=ROOT, env=script_env(tracking_uri), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 400
    while len({r.info.run_id for r in finished_children(client)} - before) < 2:
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()[-4000:]
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    first_output = process.communicate(timeout=60)[0]
    finished_first = {r.info.run_id: r.info.end_time for r in finished_children(client) if r.info.run_id not in before}
    continued = subprocess.run(
        [sys.executable, "train.py", "-m", f"resume={sweep_dir}"],
        cwd=ROOT, env=script_env(tracking_uri), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=600,
    )  # fmt: skip
    return first_output, finished_first, Sweep(continued.returncode, continued.stdout, sweep_dir)


def test_the_continued_sweep_ends_with_four_finished_children_under_one_parent(killed_and_continued, client):
    first_output, finished_first, continued = killed_and_continued
    assert continued.returncode == 0, continued.output[-4000:]
    parent, children = sweep_runs(client, continued.parent_run_id)
    assert f"mlflow: sweep run {parent.info.run_id}" in first_output  # the same parent as the first try
    assert parent.info.status == "FINISHED"
    assert [child.data.tags["ktrain.sweep.job"] for child in children] == ["0", "1", "2", "3"]
    assert [child.info.status for child in children] == ["FINISHED"] * 4
    assert parent.data.metrics["jobs_finished"] == 4
    assert parent.data.tags["ktrain.best_run_id"] in {child.info.run_id for child in children}


def test_no_job_trained_twice(killed_and_continued, client):
    _, finished_first, continued = killed_and_continued
    assert continued.output.count("finished in an earlier try of the sweep; skipped") == 2
    _, children = sweep_runs(client, continued.parent_run_id)
    for child in children:
        if child.info.run_id in finished_first:  # untouched by the second try
            assert child.info.end_time == finished_first[child.info.run_id]
        assert [m.step for m in client.get_metric_history(child.info.run_id, "val_loss")] == list(range(EPOCHS))


def test_resume_of_a_dir_that_is_not_a_sweep_is_refused(tracking_uri, tmp_path):
    message, _ = refuse(tracking_uri, "-m", f"resume={tmp_path}")
    assert f"-m resume={tmp_path} continues a sweep, but {tmp_path} has no multirun.yaml" in message
