"""The hardware group: two workers on loopback under MultiWorkerMirroredStrategy, the JAX (and
torch) backends without TensorFlow, and the refusals (no GPU, bad TF_CONFIG, what a backend
cannot do). MirroredStrategy over two logical CPUs and mixed_bfloat16 are tested by the run
that tests/test_resume.py kills and resumes."""

import importlib.util
import json
import re
import socket
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import ROOT, script_env
from ktrain import distribute as hardware
from ktrain import resume, schema
from ktrain.distribute import tf_config
from ktrain.errors import UserError


def hardware_config(option: str, **changes) -> schema.Hardware:
    from test_config import composed

    return schema.validate(composed(f"hardware={option}")).hardware.model_copy(update=changes)


def epoch_lines(output: str) -> list[str]:
    """Keras' per-epoch progress lines, without their timings."""
    return [re.sub(r" - \d+s - \d+ms/step", "", line) for line in output.splitlines() if re.match(r"\d+/\d+ - ", line)]


# --- two workers on loopback --------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def two_workers(tracking_uri, tmp_path_factory):
    """Two train.py processes under MultiWorkerMirroredStrategy, one TF_CONFIG cluster."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    run_dirs = [tmp_path_factory.mktemp(f"worker{index}") for index in range(2)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "train.py",
                "fit.verbose=2",
                "hardware=multi_worker",
                "hardware.device=cpu",
                "fit.epochs=2",
                "fit.steps_per_epoch=10",
                "fit.validation_steps=2",
                f"hydra.run.dir={run_dir}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=script_env(
                tracking_uri,
                MLFLOW_EXPERIMENT_NAME="two_workers",
                TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            ),
        )
        for index, run_dir in enumerate(run_dirs)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    return [(process.returncode, output, run_dir) for process, output, run_dir in zip(processes, outputs, run_dirs)]


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_two_workers_exit_0_and_train_in_step(two_workers):
    for returncode, output, _ in two_workers:
        assert returncode == 0, output[-4000:]
        assert "strategy multi_worker (CollectiveAllReduceStrategy, 2 replica(s))" in output
    chief_epochs, worker_epochs = (epoch_lines(output) for _, output, _ in two_workers)
    assert len(chief_epochs) == 2 and chief_epochs == worker_epochs


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_only_the_chief_records_one_run_and_writes_the_model(two_workers, client):
    experiment = client.get_experiment_by_name("two_workers")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "loss")] == [0, 1]
    models = client.search_logged_models([experiment.experiment_id], filter_string="name = 'model'")  # final models
    assert [model.source_run_id for model in models] == [runs[0].info.run_id]
    (_, _, chief_dir), (_, worker_output, worker_dir) = two_workers
    assert {"model.keras", "checkpoints", "backup", "mlflow_run.json"} <= {p.name for p in chief_dir.iterdir()}
    assert not {"model.keras", "checkpoints", "backup", "mlflow_run.json"} & {p.name for p in worker_dir.iterdir()}
    assert "the chief records the run" in worker_output


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_every_worker_logs_its_system_metrics_under_its_node_id(two_workers, client):
    (run,) = client.search_runs([client.get_experiment_by_name("two_workers").experiment_id])
    for worker in ("worker0", "worker1"):
        assert f"system/{worker}/cpu_utilization_percentage" in run.data.metrics, sorted(run.data.metrics)


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_a_multi_worker_run_is_not_resumed(two_workers):
    chief_dir = two_workers[0][2]
    with pytest.raises(UserError, match="is a hardware=multi_worker run, and resuming one is not supported"):
        resume.load(OmegaConf.create({"resume": str(chief_dir), "fit": {"epochs": 2}}), [f"resume={chief_dir}"])


# --- the configs --------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["cpu", "gpu", "multi_gpu", "multi_worker", "multi_host"])
def test_every_hardware_option_validates(option):
    from test_config import composed

    assert schema.validate(composed(f"hardware={option}")).option("hardware") == option


def test_cpu_devices_need_the_cpu():
    from test_config import refusal

    assert "hardware: cpu_devices=2 splits the CPU into logical devices, so it needs device=cpu" in refusal(
        "hardware=gpu", "hardware.cpu_devices=2"
    )


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["gpu", "multi_gpu"])
def test_gpu_options_are_refused_on_a_machine_without_gpus(option):
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(UserError) as refused:
        hardware.setup(hardware_config(option), seed=0, option=option)
    message = str(refused.value)
    assert f"hardware={option} needs" in message and "GPUs found: 0" in message
    assert "Use hardware=cpu" in message and "never falls back to the CPU silently" in message
    if option == "multi_gpu":
        assert "hardware.strategy=mirrored hardware.cpu_devices=2" in message


CLUSTER = {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}


@pytest.mark.parametrize(
    "value, problem",
    [
        (None, "TF_CONFIG is not set"),
        ("{cluster:", "TF_CONFIG is not JSON"),
        (json.dumps({"cluster": CLUSTER}), 'needs a "cluster" object and a "task" object'),
        (
            json.dumps({"cluster": {"ps": ["h:1"]}, "task": {"type": "ps", "index": 0}}),
            "allowed: chief (at most one) and worker",
        ),
        (
            json.dumps({"cluster": {"worker": ["no-port"]}, "task": {"type": "worker", "index": 0}}),
            '"host:port" addresses',
        ),
        (json.dumps({"cluster": CLUSTER, "task": {"type": "chief", "index": 0}}), "task.type='chief' is not a job"),
        (
            json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}),
            "task.index=2 is not an index of cluster.worker (0 to 1)",
        ),
    ],
)
def test_a_bad_tf_config_is_refused_with_what_it_should_be(value, problem):
    with pytest.raises(UserError) as refused:
        tf_config.read_role({} if value is None else {"TF_CONFIG": value})
    assert problem in str(refused.value)
    assert "hardware=multi_worker reads the cluster from the TF_CONFIG variable" in str(refused.value)


def test_the_chief_is_the_chief_task_or_else_worker_0():
    with_chief = {"chief": ["h:1"], **CLUSTER}
    role = lambda cluster, kind, index: tf_config.read_role(  # noqa: E731
        {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}
    )
    assert role(CLUSTER, "worker", 0).is_chief and not role(CLUSTER, "worker", 1).is_chief
    assert role(with_chief, "chief", 0).is_chief and not role(with_chief, "worker", 0).is_chief
    assert role(with_chief, "worker", 1).workers == 3


def test_a_bad_tf_config_stops_train_py_before_tensorflow_with_one_paragraph(tracking_uri, tmp_path):
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "train.py", "hardware=multi_worker", f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        env=script_env(tracking_uri, TF_CONFIG="{not json"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 2
    errors = [line for line in process.stderr.splitlines() if not line.startswith("import time:")]
    assert errors[-1].startswith(
        "Error: hardware=multi_worker reads the cluster from the TF_CONFIG variable, but TF_CONFIG is not JSON"
    )
    assert "Traceback" not in process.stderr
    assert not any(line.endswith(" tensorflow") for line in process.stderr.splitlines())


def test_what_only_tensorflow_does_is_refused_on_other_backends(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    with pytest.raises(UserError) as refused:
        hardware.prepare_environment(hardware_config("multi_worker", intra_op_threads=4))
    message = str(refused.value)
    assert "hardware.intra_op_threads=4" in message and "hardware=multi_worker" in message
    assert "not available on the jax backend" in message


# --- the JAX backend ----------------------------------------------------------------------


def backend(name: str, overrides: list[str], strategy: str):
    installed = importlib.util.find_spec(name) is not None
    reason = f"{name} is not installed" + (" (pip install -e '.[test]' installs it)" if name == "jax" else "")
    return pytest.param(name, overrides, strategy, id=name, marks=pytest.mark.skipif(not installed, reason=reason))


@pytest.mark.parametrize(
    "name, overrides, strategy",
    [
        backend(
            "jax",
            ["hardware.strategy=mirrored", "hardware.cpu_devices=2"],
            "mirrored (KerasDistribution, 2 replica(s))",
        ),
        backend("torch", [], "default (KerasDistribution, 1 replica(s))"),
    ],
)
def test_other_keras_backends_train_digits_without_tensorflow(
    name, overrides, strategy, tracking_uri, tmp_path, client
):
    process = subprocess.run(
        [
            sys.executable,
            "tests/no_tensorflow.py",
            "fit.verbose=2",
            "fit.epochs=1",
            "fit.steps_per_epoch=5",
            "fit.validation_steps=2",
            "mlflow.log_model=false",
            *overrides,
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=ROOT,
        env=script_env(tracking_uri, KERAS_BACKEND=name),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = process.stdout + process.stderr
    assert process.returncode == 0, out[-4000:]
    assert f"{name} backend, strategy {strategy}" in out
    run_id = re.search(r"mlflow: run (\w+) in experiment", out).group(1)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["keras.backend"] == name
    assert "tensorflow.version" not in run.data.tags
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0]
    assert 0 <= run.data.metrics["test_accuracy"] <= 1
