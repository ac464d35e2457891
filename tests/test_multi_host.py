"""hardware=multi_host: two train.py processes on 127.0.0.1 joined by jax.distributed (CPU
collectives over gloo) train one run in step, only process 0 records it, both resume it;
and a process whose peers never come is refused within its timeout instead of hanging."""

import importlib.util
import subprocess
import sys
import time

import pytest

from conftest import ROOT, refuse, script_env
from ktrain.errors import UserError
from test_hardware import epoch_lines, free_ports

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="jax is not installed (pip install -e '.[test]' installs it)"
)

EXPERIMENT = "two_hosts"


def train_on_two_processes(tracking_uri: str, run_dirs, *overrides: str, port: int | None = None) -> list[str]:
    """Both processes of one run, each given ``overrides`` and its own process id; their output."""
    given = [f"hardware.coordinator_address=127.0.0.1:{port}", "hardware.num_processes=2"] if port else []
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "train.py",
                *overrides,
                *given,
                f"hardware.process_id={index}",
                f"hydra.run.dir={run_dir}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=script_env(tracking_uri, KERAS_BACKEND="jax", MLFLOW_EXPERIMENT_NAME=EXPERIMENT),
        )
        for index, run_dir in enumerate(run_dirs)
    ]
    try:
        outputs = [process.communicate(timeout=240)[0] for process in processes]
    finally:
        for process in processes:  # a process left waiting on a collective
            process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-4000:]
    return outputs


@pytest.fixture(scope="module")
def two_processes(tracking_uri, tmp_path_factory):
    """A 2-epoch run on two processes, then both resumed to a third epoch."""
    run_dirs = [tmp_path_factory.mktemp(f"process{index}") for index in range(2)]
    trained = train_on_two_processes(
        tracking_uri,
        run_dirs,
        "hardware=multi_host",
        "hardware.device=cpu",
        "fit.verbose=2",
        "fit.epochs=2",
        "fit.steps_per_epoch=5",
        "fit.validation_steps=2",
        port=free_ports(1)[0],
    )
    # Resumed as a user would, each process with its id (and here a new port: the old one may linger).
    resumed = train_on_two_processes(
        tracking_uri,
        [run_dirs[0], run_dirs[0]],  # process 1 reads the run from process 0's dir (a shared disk)
        f"resume={run_dirs[0]}",
        "fit.epochs=3",
        f"hardware.coordinator_address=127.0.0.1:{free_ports(1)[0]}",
    )
    return run_dirs, trained, resumed


@pytest.mark.slow
def test_both_processes_train_the_same_steps_over_all_their_devices(two_processes):
    _, trained, resumed = two_processes
    for output in trained:
        assert "strategy multi_host (KerasDistribution, 2 replica(s))" in output
        assert "data: batch_size=32 is the global batch: 2 replicas of 16 samples each" in output
        assert "visible devices: " not in output  # no timeout taken for jax's local_device_ids
    assert len(epoch_lines(trained[0])) == 2 and epoch_lines(trained[0]) == epoch_lines(trained[1])
    assert len(epoch_lines(resumed[0])) == 1 and epoch_lines(resumed[0]) == epoch_lines(resumed[1])
    for output in resumed:
        assert "resume: restored weights, optimizer state and callbacks from the backup of epoch 2" in output


@pytest.mark.slow
def test_process_0_alone_records_one_run_and_writes_the_files(two_processes, client):
    (chief_dir, other_dir), trained, resumed = two_processes
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    run_id = runs[0].info.run_id
    assert [m.step for m in client.get_metric_history(run_id, "val_loss")] == [0, 1, 2]
    finals = client.search_logged_models([experiment.experiment_id], filter_string="name = 'model'")
    assert [m.source_run_id for m in finals] == [run_id] * 2
    written = {"model.keras", "checkpoints", "backup", "mlflow_run.json"}
    assert written <= {p.name for p in chief_dir.iterdir()}
    assert not written & {p.name for p in other_dir.iterdir()}
    assert "the chief records the run" in trained[1] and "the chief records the run" in resumed[1]
    # Resumed in the chief's run dir, process 1 logs beside its train.log, not into it.
    assert "worker done" not in (chief_dir / "train.log").read_text()
    assert "worker done" in (chief_dir / "train.process1.log").read_text()


@pytest.mark.slow
def test_every_process_logs_its_system_metrics_under_its_node_id(two_processes, client):
    (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    for process in ("process0", "process1"):
        assert f"system/{process}/cpu_utilization_percentage" in run.data.metrics, sorted(run.data.metrics)


def test_a_process_whose_coordinator_never_answers_is_refused_within_its_timeout(tracking_uri, tmp_path):
    started = time.monotonic()
    error, _ = refuse(
        tracking_uri,
        "hardware=multi_host",
        "hardware.device=cpu",
        f"hardware.coordinator_address=127.0.0.1:{free_ports(1)[0]}",
        "hardware.num_processes=2",
        "hardware.process_id=1",
        "hardware.initialization_timeout_s=3",
        f"hydra.run.dir={tmp_path}",
        KERAS_BACKEND="jax",
    )
    assert "process 1 of 2 could not join the others within hardware.initialization_timeout_s=3" in error
    assert "could not be reached" in error and time.monotonic() - started < 60


@pytest.mark.slow
def test_process_0_without_the_others_is_refused_naming_the_missing(tracking_uri, tmp_path):
    error, _ = refuse(
        tracking_uri,
        "hardware=multi_host",
        "hardware.device=cpu",
        f"hardware.coordinator_address=127.0.0.1:{free_ports(1)[0]}",
        "hardware.num_processes=3",
        "hardware.process_id=0",
        "hardware.initialization_timeout_s=2",
        f"hydra.run.dir={tmp_path}",
        KERAS_BACKEND="jax",
    )
    assert "process 0 of 3 could not join the others" in error and "process(es) 1, 2 did not connect" in error


def test_multi_host_on_tensorflow_is_refused(tracking_uri, tmp_path):
    error, _ = refuse(
        tracking_uri,
        "hardware=multi_host",
        "hardware.coordinator_address=127.0.0.1:1",
        "hardware.num_processes=2",
        "hardware.process_id=0",
        f"hydra.run.dir={tmp_path}",
        KERAS_BACKEND="tensorflow",
    )
    assert "on the JAX backend only" in error


def test_a_cluster_task_reads_its_place_from_slurm_or_open_mpi(monkeypatch):
    from ktrain.distribute import multi_host
    from test_hardware import hardware_config

    config = hardware_config("multi_host")
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "node01:12355")
    assert multi_host.read_role(config) == multi_host.Role(3, 4, "node01:12355")
    monkeypatch.delenv("SLURM_PROCID")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "0")
    assert multi_host.read_role(config).is_chief
    with pytest.raises(UserError, match="hardware.process_id=5 is not below hardware.num_processes=4"):
        multi_host.read_role(config.model_copy(update={"process_id": 5}))
