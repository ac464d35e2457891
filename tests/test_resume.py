"""``train.py resume=<run dir>``: a run killed at any moment (SIGKILL, SIGTERM) continues in the
same MLflow run, with every per-epoch metric logged exactly once; and the refusals.

The run killed here also tests the hardware group on one machine: MirroredStrategy over two
logical CPU devices, mixed_bfloat16, and fit.initial_epoch (its epochs are 1 to 5).
"""

import csv
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from omegaconf import OmegaConf

from conftest import ROOT, Run, refuse, run_train, script_env
from ktrain import resume
from ktrain.errors import UserError

EPOCHS = 7
FIRST = 1  # fit.initial_epoch
STEPS = 5  # fit.steps_per_epoch
PER_EPOCH = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")
OVERRIDES = (
    "fit.verbose=2",
    f"fit.epochs={EPOCHS}",
    f"fit.initial_epoch={FIRST}",
    f"fit.steps_per_epoch={STEPS}",
    "fit.validation_steps=2",
    "mlflow.log_model=false",
    "hardware.strategy=mirrored",
    "hardware.cpu_devices=2",
    "hardware.mixed_precision=mixed_bfloat16",
)


def start(tracking_uri: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "train.py", *args],
        cwd=ROOT,
        env=script_env(tracking_uri),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def resume_to_the_end(tracking_uri: str, run_dir, *overrides: str) -> subprocess.CompletedProcess:
    """``python train.py resume=RUN_DIR [OVERRIDES]``, run to its end."""
    return subprocess.run(
        [sys.executable, "train.py", f"resume={run_dir}", *overrides],
        cwd=ROOT,
        env=script_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait_for_backup(process: subprocess.Popen, run_dir, epoch: int) -> None:
    """Wait until the run's backup holds ``epoch`` completed epochs."""
    state = run_dir / "backup" / "state.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and json.loads(state.read_text())["epoch"] >= epoch:
            return
        time.sleep(0.05)
    output = process.communicate(timeout=60)[0] if process.poll() is not None else ""
    raise AssertionError(f"no backup of epoch {epoch}:\n{output[-3000:]}")


@pytest.fixture(scope="module")
def killed_twice(tracking_uri, tmp_path_factory):
    """A run SIGKILLed after two epochs, resumed, stopped with SIGTERM after one more,
    resumed again to the end. Returns the three processes' (returncode, output) and the dir."""
    run_dir = tmp_path_factory.mktemp("killed")
    first = start(tracking_uri, *OVERRIDES, f"hydra.run.dir={run_dir}")
    wait_for_backup(first, run_dir, FIRST + 2)
    first.send_signal(signal.SIGKILL)
    killed = (first.wait(timeout=60), first.stdout.read())

    second = start(tracking_uri, f"resume={run_dir}")
    try:
        wait_for_backup(second, run_dir, json.loads((run_dir / "backup" / "state.json").read_text())["epoch"] + 1)
        second.send_signal(signal.SIGTERM)
        terminated = (second.wait(timeout=120), second.stdout.read())
    finally:
        if second.poll() is None:  # it did not end: stop it, and the test fails above
            second.kill()
            second.wait()

    third = resume_to_the_end(tracking_uri, run_dir)
    finished = (third.returncode, third.stdout + third.stderr)
    return killed, terminated, finished, run_dir


@pytest.fixture(scope="module")
def run_id(killed_twice):
    (_, output), _, _, run_dir = killed_twice
    return Run(0, output, "", run_dir).run_id


def test_sigterm_ends_the_run_killed_and_prints_the_resume_command(killed_twice, run_id, client):
    _, (returncode, output), _, run_dir = killed_twice
    assert returncode == 128 + signal.SIGTERM, output[-3000:]
    assert f"mlflow: run {run_id} ended KILLED" in output
    assert f"continue it with: python train.py resume={run_dir}" in output
    assert [a.path for a in client.list_artifacts(run_id, "checkpoints")] == [
        "checkpoints/best.keras",
        "checkpoints/last.keras",
    ]


def test_resumed_runs_reopen_the_same_mlflow_run_and_finish_it(killed_twice, run_id, client):
    _, (_, terminated), (returncode, finished), run_dir = killed_twice
    assert returncode == 0, finished[-4000:]
    for output in (terminated, finished):
        assert f"mlflow: run {run_id} in experiment 'ktrain'" in output and "(reopened)" in output
        assert "restored weights, optimizer state and callbacks" in output
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["ktrain.killed_by"] == "SIGTERM"  # from the stop in between
    assert int(run.data.tags["ktrain.resumed_at_epoch"]) >= 4  # the second resume's
    assert run.data.params["fit.epochs"] == str(EPOCHS)
    # the run's own saved config, untouched by the resumes
    assert OmegaConf.load(run_dir / ".hydra" / "overrides.yaml") == list(OVERRIDES)


def test_every_per_epoch_metric_is_in_mlflow_exactly_once_per_epoch(killed_twice, run_id, client):
    for key in PER_EPOCH:
        assert [m.step for m in client.get_metric_history(run_id, key)] == list(range(FIRST, EPOCHS)), key


def test_history_files_hold_every_epoch_once(killed_twice):
    run_dir = killed_twice[-1]
    assert json.loads((run_dir / "history.json").read_text())["epoch"] == list(range(FIRST, EPOCHS))
    with (run_dir / "epochs.csv").open() as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == list(range(FIRST, EPOCHS))


def test_optimizer_state_went_on_across_the_kills(killed_twice):
    import keras

    model = keras.saving.load_model(killed_twice[-1] / "model.keras")
    assert int(model.optimizer.iterations) == (EPOCHS - FIRST) * STEPS


def test_mirrored_strategy_over_two_logical_cpus_states_the_per_replica_batch(killed_twice):
    for _, output in killed_twice[:3]:
        assert "strategy mirrored (MirroredStrategy, 2 replica(s)), precision policy mixed_bfloat16" in output
        assert "batch_size=32 is the global batch: 2 replicas of 16 samples each" in output


def test_mixed_bfloat16_computes_in_bfloat16_and_predicts_in_float32(killed_twice):
    import keras

    model = keras.saving.load_model(killed_twice[-1] / "model.keras")
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert conv.dtype_policy.name == "mixed_bfloat16"
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
    assert model.get_layer("predictions").compute_dtype == "float32"


# --- refusals -----------------------------------------------------------------------------


def test_a_fresh_run_in_a_run_dir_used_before_starts_its_history_anew(tracking_uri, tmp_path):
    """The same hydra.run.dir twice: the CSV log, kept across a resume, gained the first run's rows."""
    for _ in range(2):
        run_train(tracking_uri, tmp_path, "fit.epochs=2", "fit.steps_per_epoch=2", "mlflow.log_model=false")
    with (tmp_path / "epochs.csv").open() as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["0", "1"]


def test_resume_of_a_dir_that_is_not_a_run_is_refused(tracking_uri, tmp_path):
    message, _ = refuse(tracking_uri, f"resume={tmp_path}")
    assert message.startswith(f"Error: resume={tmp_path} is not a ktrain run dir: {tmp_path} has no .hydra/config.yaml")
    assert list(tmp_path.iterdir()) == []


def test_resume_of_a_finished_run_is_refused_unless_epochs_are_raised(killed_twice, run_id):
    run_dir = killed_twice[-1]
    with pytest.raises(UserError) as finished:
        resume.load(OmegaConf.create({"resume": str(run_dir), "fit": {"epochs": EPOCHS}}), [f"resume={run_dir}"])
    assert f"its MLflow run {run_id} already FINISHED its fit.epochs={EPOCHS} epochs" in str(finished.value)
    assert f"resume={run_dir} fit.epochs={EPOCHS * 2}" in str(finished.value)
    cfg = OmegaConf.create({"resume": str(run_dir), "fit": {"epochs": EPOCHS + 2}})
    resumed = resume.load(cfg, [f"resume={run_dir}", f"fit.epochs={EPOCHS + 2}"])
    saved, reopened = resumed.cfg, resumed.run_id
    assert reopened == run_id and saved.fit.epochs == EPOCHS + 2 and saved.paths.output_dir == str(run_dir)
    with pytest.raises(UserError, match="can only raise fit.epochs"):
        resume.load(OmegaConf.create({"resume": str(run_dir), "fit": {"epochs": 2}}), ["fit.epochs=2"])


def test_a_fit_epochs_raised_by_an_earlier_resume_is_what_the_next_one_must_raise(killed_twice, run_id, tmp_path):
    # .hydra/ keeps the first fit.epochs; the run's record keeps the one a resume raised it to.
    run_dir = tmp_path / "run"
    shutil.copytree(killed_twice[-1], run_dir)
    record = json.loads((run_dir / "mlflow_run.json").read_text())
    (run_dir / "mlflow_run.json").write_text(json.dumps({**record, "fit_epochs": str(EPOCHS + 2)}))
    raised = EPOCHS + 2
    with pytest.raises(UserError, match=f"already FINISHED its fit.epochs={raised} epochs"):
        resume.load(OmegaConf.create({"resume": str(run_dir), "fit": {"epochs": raised}}), [f"fit.epochs={raised}"])
    with pytest.raises(UserError, match=f"can only raise fit.epochs \\(the run has fit.epochs={raised}\\)"):
        resume.load(
            OmegaConf.create({"resume": str(run_dir), "fit": {"epochs": raised - 1}}), [f"fit.epochs={raised - 1}"]
        )


def test_resume_with_other_overrides_is_refused(killed_twice, tracking_uri):
    run_dir = killed_twice[-1]
    message, _ = refuse(tracking_uri, f"resume={run_dir}", "optimizer=sgd", "data.batch_size=8")
    assert "other overrides are refused (got: optimizer=sgd data.batch_size=8)" in message
    assert "Only fit.epochs may be given" in message


def test_resume_of_a_run_that_never_reached_mlflow_says_how_to_start_it_anew(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- model=mlp\n")
    with pytest.raises(UserError, match="Start it anew: python train.py model=mlp."):
        resume.check_run_dir(str(tmp_path))


# --- the pieces, in process ---------------------------------------------------------------


def dense_data():
    """64 samples of 4 features, labelled by the sign of the first."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def dense_model():
    import keras

    built = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    built.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    return built


def test_backup_restores_weights_optimizer_and_callback_progress(tmp_path):
    import keras

    from ktrain.callbacks import EpochLog, RunBackup

    x, y = dense_data()

    def callbacks():
        return [
            keras.callbacks.EarlyStopping(monitor="loss", patience=9, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=9),
            EpochLog(),
        ]

    first, kept = dense_model(), callbacks()
    first.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[*kept, RunBackup(tmp_path, kept, epochs=3)])
    second, restored = dense_model(), callbacks()
    backup = RunBackup(tmp_path, restored, epochs=3)
    assert backup.next_epoch == 3 and backup.finished_training
    second.fit(x, y, batch_size=16, epochs=3, initial_epoch=3, verbose=0, callbacks=[*restored, backup])

    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(second.optimizer.iterations) == int(first.optimizer.iterations) == 12
    assert restored[0].best == kept[0].best and restored[0].best_epoch == kept[0].best_epoch == 2
    for a, b in zip(kept[0].best_weights, restored[0].best_weights):
        np.testing.assert_array_equal(a, b)
    assert restored[2].rows == kept[2].rows and [r["epoch"] for r in restored[2].rows] == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-00003.bin", "state.json"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the ignored raise, as printed
def test_a_stop_python_ignored_in_a_destructor_ends_the_fit_at_its_next_batch(tmp_path):
    """A signal that comes while a ``__del__`` runs raises there, and Python only prints
    "Exception ignored" (a SIGTERM in TensorFlow's ConcreteFunctionGarbageCollector.__del__
    once let a run train on to FINISHED)."""
    from ktrain.callbacks import RunBackup
    from ktrain.resume import interrupts

    class SignalledWhileCollected:
        def __del__(self):
            signal.raise_signal(signal.SIGTERM)  # its handler runs at once, inside __del__

    x, y = dense_data()
    model, handler = dense_model(), signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped, interrupts.exit_when_stopped(None):
        SignalledWhileCollected()  # collected at once
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[RunBackup(tmp_path, [], epochs=3)])
    assert stopped.value.code == 128 + signal.SIGTERM
    assert int(model.optimizer.iterations) == 0  # stopped before its first step
    assert signal.getsignal(signal.SIGTERM) is handler


def test_a_second_stop_while_the_run_ends_does_not_cut_its_ending_short():
    from ktrain.resume import interrupts

    ended = []
    with pytest.raises(SystemExit) as stopped, interrupts.exit_when_stopped(None):
        try:
            signal.raise_signal(signal.SIGTERM)
        finally:  # the run commits its last backup and ends KILLED
            signal.raise_signal(signal.SIGTERM)  # passed on by a sweep's process, or a second kill
            ended.append("KILLED")
    assert stopped.value.code == 128 + signal.SIGTERM and ended == ["KILLED"]


@pytest.mark.parametrize(
    "hidden, units, expected",
    [
        (0, 3, "kernel is shaped (4, 3) in the rebuilt model and (4, 2) in the backup"),
        (5, 2, "it holds 2 model variables, and the rebuilt model has 4"),
    ],
    ids=["another shape", "another count"],
)  # fmt: skip
def test_a_backup_that_does_not_fit_the_rebuilt_model_is_refused_naming_what_differs(hidden, units, expected, tmp_path):
    import keras

    from ktrain.callbacks import RunBackup

    x, y = dense_data()
    dense_model().fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[RunBackup(tmp_path, [], epochs=2)])
    layers = [keras.layers.Dense(hidden)] if hidden else []
    changed = keras.Sequential([keras.Input((4,)), *layers, keras.layers.Dense(units, activation="softmax")])
    changed.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    with pytest.raises(UserError) as refused:
        changed.fit(x, y, batch_size=16, epochs=2, initial_epoch=1, verbose=0, callbacks=[RunBackup(tmp_path, [], 2)])
    assert str(refused.value).startswith(f"The backup in {tmp_path} does not fit the rebuilt model: ")
    assert expected in str(refused.value), str(refused.value)


def trained_backup(directory):
    """A 2-epoch backup of ``dense_model`` in ``directory``, and the model it saved."""
    from ktrain.callbacks import RunBackup, read_state

    x, y = dense_data()
    trained = dense_model()
    trained.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[RunBackup(directory, [], epochs=4)])
    return trained, read_state(directory)


def test_a_backup_an_earlier_ktrain_wrote_as_an_npz_is_restored(tmp_path):
    from ktrain.callbacks import RunBackup
    from ktrain.callbacks.run_backup import _read_arrays

    trained, state = trained_backup(tmp_path)
    np.savez(tmp_path / "epoch-00002.npz", **_read_arrays(tmp_path, state))
    (tmp_path / state["arrays"]).unlink()
    del state["layout"]
    (tmp_path / "state.json").write_text(json.dumps({**state, "arrays": "epoch-00002.npz"}))

    restored = dense_model()
    restored.fit(np.zeros((1, 4), "float32"), np.zeros(1, "int64"), epochs=2, initial_epoch=2, verbose=0,
                 callbacks=[RunBackup(tmp_path, [], epochs=2)])  # fmt: skip
    for a, b in zip(trained.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(restored.optimizer.iterations) == int(trained.optimizer.iterations)


def test_an_arrays_file_cut_short_is_refused_with_what_to_do(tmp_path):
    from ktrain.callbacks import RunBackup

    _, state = trained_backup(tmp_path)
    arrays = tmp_path / state["arrays"]
    arrays.write_bytes(arrays.read_bytes()[:-10])
    with pytest.raises(UserError, match=r"shorter than its state.json says .*\(resume=<run id>"):
        dense_model().fit(np.zeros((1, 4), "float32"), np.zeros(1, "int64"), epochs=4, initial_epoch=2, verbose=0,
                          callbacks=[RunBackup(tmp_path, [], epochs=4)])  # fmt: skip


def test_the_backup_copy_of_the_variables_keeps_its_values_while_training_goes_on():
    """The writer thread saves the copy while the next epoch trains: the copy must not follow
    the variables as they change."""
    from ktrain.callbacks.run_backup import _values

    x, y = dense_data()
    model = dense_model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    copy = {**_values("model", model.weights), **_values("optimizer", model.optimizer.variables)}
    values_then = {name: np.array(value) for name, value in copy.items()}

    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert not np.array_equal(model.weights[0].numpy(), values_then["model.0"])
    for name, value in copy.items():
        np.testing.assert_array_equal(value, values_then[name], err_msg=name)
    np.testing.assert_array_equal(_values("model", model.weights)["model.0"], model.weights[0].numpy())


def test_restored_epochs_that_mlflow_lacks_are_logged_once(client, tmp_path):
    from ktrain.tracking.metrics import log_missing

    experiment_id = client.create_experiment("log_missing", artifact_location=tmp_path.as_uri())
    run_id = client.create_run(experiment_id).info.run_id
    for epoch in (0, 1):  # the epochs whose logging reached the store before the kill
        client.log_metric(run_id, "loss", 1.0 - epoch / 10, step=epoch)
    rows = [{"epoch": e, "loss": 1.0 - e / 10, "lr": 0.01} for e in range(3)]
    log_missing(client, run_id, rows)
    log_missing(client, run_id, rows)
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "loss")] == [(0, 1.0), (1, 0.9), (2, 0.8)]
    assert [m.step for m in client.get_metric_history(run_id, "lr")] == [0, 1, 2]
