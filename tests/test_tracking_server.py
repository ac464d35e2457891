"""A team's shared tracking server: a parallel sweep (joblib, two jobs at once) recorded in a
real ``mlflow server`` with a database backend (SQLite, and PostgreSQL where it is installed),
its artifacts uploaded through the server."""

import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from joblib import cpu_count

from conftest import ROOT, refuse, run_sweep, script_env
from servers import mlflow_server, postgres


# PostgreSQL is slow-marked (its server and a sweep on it, about 55 s in all); SQLite runs in the suite.
@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def server(request, tmp_path_factory):
    """``mlflow server`` on a free 127.0.0.1 port, artifacts served by it, on a SQLite or a
    PostgreSQL backend store (PostgreSQL started for the test, in a data dir of its own)."""
    root = tmp_path_factory.mktemp(request.param)
    with ExitStack() as stack:
        if request.param == "sqlite":
            backend = f"sqlite:///{root / 'server.db'}"
        else:
            pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]' (the postgresql extra)")
            backend = stack.enter_context(postgres(root))
        yield stack.enter_context(mlflow_server(root, backend))


@pytest.fixture(scope="module")
def sweep(server, tmp_path_factory):
    """Three jobs, two at a time; the third (step drops beyond fit.epochs) is refused."""
    url, _ = server
    return run_sweep(
        url,
        tmp_path_factory.mktemp("parallel") / "sweep",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "schedule=constant,warmup_cosine,step",
    )


@pytest.fixture(scope="module")
def runs(server, sweep):
    from mlflow import MlflowClient

    client = MlflowClient(server[0])
    parent = client.get_run(sweep.parent_run_id)
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    return client, parent, sorted(children, key=lambda run: int(run.data.tags["ktrain.sweep.job"]))


def test_a_parallel_sweep_goes_on_past_a_failed_job_and_exits_1(sweep, runs):
    assert sweep.returncode == 1, sweep.output[-4000:]
    _, parent, children = runs
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["ktrain.sweep.launcher"] == "JoblibLauncher"
    errors = [child.data.tags.get("ktrain.error") for child in children]
    assert [child.info.status for child in children] == ["FINISHED", "FINISHED", "FAILED"], errors
    assert "schedule.drop_epochs=[10, 15]: the drop at epoch 10 never happens" in children[2].data.tags["ktrain.error"]
    assert (parent.data.metrics["jobs_finished"], parent.data.metrics["jobs_failed"]) == (2, 1)
    assert parent.data.tags["ktrain.best_run_id"] in {child.info.run_id for child in children[:2]}


def test_jobs_run_at_once_in_worker_processes_each_on_its_share_of_the_cores(runs):
    _, _, (first, second, _) = runs
    assert first.info.start_time < second.info.end_time and second.info.start_time < first.info.end_time
    share = str(max(1, cpu_count() // 2))
    for child in (first, second):
        assert child.data.params["hardware.intra_op_threads"] == share
        assert child.data.params["hardware.inter_op_threads"] == share


def test_runs_and_artifacts_arrive_through_the_server(server, runs):
    _, artifact_store = server
    client, parent, children = runs
    for run in (parent, *children):
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/"), run.info.artifact_uri
    stored = {path.relative_to(artifact_store).as_posix() for path in artifact_store.rglob("*") if path.is_file()}

    def stored_for(run):
        return {path.split("/artifacts/", 1)[1] for path in stored if f"/{run.info.run_id}/artifacts/" in path}

    assert {"sweep_summary.csv", "sweep_summary.md", "sweep_summary.png", "multirun.yaml"} <= stored_for(parent)
    assert {"history.json", "checkpoints/best.keras", "hydra/config.yaml", "train.log"} <= stored_for(children[0])
    assert "train.log" in stored_for(children[2])  # the refused job's log, with the full traceback
    summary = client.download_artifacts(parent.info.run_id, "sweep_summary.csv")
    assert children[2].info.run_id in Path(summary).read_text()


# Each of the four processes logs the same three splits at one instant; before each run retried
# a dataset another had just inserted, three of them failed on the datasets table's unique key.
RACE = """
import sys, time
from pathlib import Path
from ktrain.tracking.run import MlflowRun
url, folder, at = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
with MlflowRun(url, "race", folder, system_metrics=False) as run:
    time.sleep(max(0.0, at - time.time()))
    for context in ("training", "validation", "testing"):
        run.log_dataset(f"race-{context}", context, "ktrain.data.arrays.DigitsData", "0123456789abcdef",
                        {"input": ("float32", (8, 8, 1))}, {"rows": 3})
print(run.run_id)
"""


@pytest.mark.slow
def test_runs_logging_the_same_split_at_once_all_record_it(server, tmp_path):
    from mlflow import MlflowClient

    url, _ = server
    at = time.time() + 10  # after the four have imported MLflow and started their runs
    processes = [
        subprocess.Popen([sys.executable, "-c", RACE, url, str(tmp_path / str(i)), str(at)], cwd=ROOT,
                         env=script_env(url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(4)
    ]  # fmt: skip
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outputs
    client = MlflowClient(url)
    for output in outputs:
        inputs = client.get_run(output.split()[-1]).inputs.dataset_inputs
        assert sorted(i.dataset.name for i in inputs) == ["race-testing", "race-training", "race-validation"]


@pytest.mark.slow
def test_a_database_that_refuses_the_connection_is_refused_in_one_paragraph(tmp_path):
    """A PostgreSQL that answers but knows no such database or user: MLflow retried nine times
    and ended in psycopg's traceback."""
    pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]' (the postgresql extra)")
    with postgres(tmp_path) as uri:
        server = uri.rsplit("/", 1)[0]
        for wrong, reason in [
            (f"{server}/nope", 'database "nope" does not exist'),
            (server.replace("mlflow@", "nobody@") + "/mlflow", 'role "nobody" does not exist'),
        ]:
            said, _ = refuse(wrong, f"hydra.run.dir={tmp_path / 'run'}")
            assert f"mlflow.tracking_uri={wrong}: the database refused the connection" in said, said
            assert reason in said, said
