"""A sweep killed halfway continues: ``train.py -m resume=<sweep dir>`` skips the jobs that
finished, resumes the one the kill stopped, runs the rest, in the same parent MLflow run."""

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import psutil
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

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


def kill_after_two_and_continue(
    tracking_uri,
    client,
    sweep_dir,
    *overrides: str,
    experiment: str = "ktrain",
    elsewhere: Path | None = None,
    third_trained: int = 0,
):
    """A 4-job sweep SIGKILLed once two of its children have FINISHED (and the third has
    trained ``third_trained`` epochs), then continued with
    ``-m resume=<sweep dir>`` (or, ``elsewhere``: its sweep dir deleted, with ``-m
    resume=<parent run id>`` from that folder): the first try's output, its finished children's
    end times, and the continued sweep."""
    env = script_env(tracking_uri, MLFLOW_EXPERIMENT_NAME=experiment)
    before = {run.info.run_id for run in finished_children(client, experiment)}
    process = subprocess.Popen(
        [sys.executable, "train.py", "-m", f"fit.epochs={EPOCHS}", "fit.steps_per_epoch=5", "fit.verbose=2",
         "mlflow.log_model=false", f"hydra.sweep.dir={sweep_dir}", *overrides],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 400
    third = sweep_dir / "2" / "epochs.csv"
    while len({r.info.run_id for r in finished_children(client, experiment)} - before) < 2 or (
        third_trained and not (third.is_file() and len(third.read_text().splitlines()) > third_trained)
    ):
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()[-4000:]
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    first_output = process.communicate(timeout=60)[0]
    finished_first = {
        r.info.run_id: r.info.end_time for r in finished_children(client, experiment) if r.info.run_id not in before
    }
    resume = sweep_dir
    if elsewhere is not None:
        resume = re.search(r"mlflow: sweep run (\w+) in experiment", first_output).group(1)
        shutil.rmtree(sweep_dir)
    continued = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", f"resume={resume}"],
        cwd=elsewhere or ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )  # fmt: skip
    return first_output, finished_first, Sweep(continued.returncode, continued.stdout, sweep_dir)


@pytest.fixture(scope="module")
def killed_and_continued(tracking_uri, client, tmp_path_factory):
    return kill_after_two_and_continue(tracking_uri, client, tmp_path_factory.mktemp("sweep") / "sweep", *GRID)


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
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


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
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


@pytest.mark.slow
def test_a_killed_optuna_search_continues_its_trials_and_asks_no_more(tracking_uri, client, tmp_path):
    """An Optuna search of 4 trials, killed during its third: -m resume= skips the two that
    finished, resumes the third trial's job and run, asks the fourth; the study holds 4 trials."""
    storage = tmp_path / "optuna.journal"
    first_output, finished_first, continued = kill_after_two_and_continue(
        tracking_uri, client, tmp_path / "sweep", "hparams_search=optuna",
        "hydra.sweeper.pruner=null", "hydra.sweeper.n_trials=4", f"hydra.sweeper.storage={storage}",
        "fit.epochs=8", experiment="optuna_resumed", third_trained=2,
    )  # fmt: skip
    assert continued.returncode == 0, continued.output[-4000:]
    assert "optuna: jobs 2 were interrupted; continuing them" in continued.output
    assert "sweep: job 2 resumes its run" in continued.output and "#3 :" in continued.output
    assert "#0 :" not in continued.output and "#1 :" not in continued.output  # told in the first try
    parent, children = sweep_runs(client, continued.parent_run_id)
    assert f"mlflow: sweep run {parent.info.run_id}" in first_output and parent.info.status == "FINISHED"
    assert [child.info.status for child in children] == ["FINISHED"] * 4
    assert int(children[2].data.tags["ktrain.resumed_at_epoch"]) >= 1  # the interrupted job went on in its run
    for child in children:
        assert [m.step for m in client.get_metric_history(child.info.run_id, "val_loss")] == list(range(8))
    (study,) = optuna.get_all_study_summaries(JournalStorage(JournalFileBackend(str(storage))))
    trials = optuna.load_study(
        study_name=study.study_name, storage=JournalStorage(JournalFileBackend(str(storage)))
    ).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 4  # four trials, none asked twice


@pytest.mark.slow
def test_a_sweep_whose_dir_is_lost_continues_from_its_parent_run_id(tracking_uri, client, tmp_path):
    elsewhere = tmp_path / "another_machine"
    elsewhere.mkdir()
    first_output, finished_first, continued = kill_after_two_and_continue(
        tracking_uri, client, tmp_path / "sweep", *GRID, "fit.epochs=8",
        experiment="sweep_dir_lost", elsewhere=elsewhere, third_trained=2,
    )  # fmt: skip
    assert continued.returncode == 0, continued.output[-4000:]
    assert continued.output.count("finished in an earlier try of the sweep; skipped") == 2
    parent, children = sweep_runs(client, continued.parent_run_id)
    assert f"mlflow: sweep run {parent.info.run_id}" in first_output and parent.info.status == "FINISHED"
    assert [child.info.status for child in children] == ["FINISHED"] * 4
    assert int(children[2].data.tags["ktrain.resumed_at_epoch"]) >= 1  # from the backup it had uploaded
    for child in children:
        assert [m.step for m in client.get_metric_history(child.info.run_id, "val_loss")] == list(range(8))
    assert (tmp_path / "sweep" / "multirun.yaml").is_file() and not (elsewhere / "outputs").exists()


@pytest.mark.slow
def test_a_joblib_sweep_stopped_by_sigterm_ends_its_jobs_killed_and_then_itself(tracking_uri, client, tmp_path):
    """SIGTERM to the sweep's process alone (a user's kill, a container's stop): joblib's
    workers trained on and its runs stayed RUNNING. The jobs now end KILLED first."""
    sweep_dir = tmp_path / "sweep"
    process = subprocess.Popen(
        [sys.executable, "train.py", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "fit.epochs=500",
         "optimizer.learning_rate=1e-3,2e-3,3e-3", "~callbacks.early_stopping", "fit.verbose=0",
         "mlflow.log_model=false", f"hydra.sweep.dir={sweep_dir}"],
        cwd=ROOT, env=script_env(tracking_uri, MLFLOW_EXPERIMENT_NAME="stopped"), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not all((sweep_dir / job / "backup" / "state.json").is_file() for job in ("0", "1")):
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()[-4000:]
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=180)[0]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 128 + signal.SIGTERM, output[-4000:]
    assert f"continue it with: python train.py -m resume={sweep_dir}" in output, output[-4000:]
    assert "ended KILLED: stopped by SIGTERM" in output, output[-4000:]
    stopped = re.search(r"stopping its running jobs \(processes ([\d, ]+)\)", output)[1]
    workers = [int(pid) for pid in stopped.split(", ")]
    time.sleep(2)
    assert not [pid for pid in workers if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    parent = re.search(r"mlflow: sweep run (\w+) in experiment", output)[1]
    assert client.get_run(parent).info.status == "KILLED"
    assert client.get_run(parent).data.tags["ktrain.killed_by"] == "SIGTERM"
    assert "continue it with: python train.py resume=" not in output  # a job's command is its sweep's
    children = client.search_runs(
        [client.get_experiment_by_name("stopped").experiment_id], f"tags.mlflow.parentRunId = '{parent}'"
    )
    ends = sorted((run.info.status, run.data.tags["ktrain.killed_by"]) for run in children)
    assert ends == [("KILLED", "SIGTERM")] * 2
    with (sweep_dir / "sweep_summary.csv").open() as file:  # each scores the epochs it trained
        assert all(float(row["best_val_loss"]) < 2.5 for row in csv.DictReader(file))
