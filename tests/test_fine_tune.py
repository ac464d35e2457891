"""``model.weights=imagenet`` (Keras' cache, and the refusal offline) and ``fine_tune=two_phase``:
the head on a frozen backbone, then the backbone at a lower rate, in one run; resumed across
the phase change.

No test downloads: every run that asks for ImageNet weights has its proxies pointed at a
closed port (any fetch fails at once) and a temporary ``KERAS_HOME``.
"""

import json
import signal

import numpy as np
import pytest

from conftest import Run, refuse, run_train
from images import make_image_folder
from ktrain import schema
from test_config import cli, composed, imported_tensorflow, refusal
from test_resume import resume_to_the_end, start, wait_for_backup

MOBILENET_V2_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
ORIGIN = f"https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/{MOBILENET_V2_FILE}"
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
BASE_RATE, FACTOR = 1e-3, 0.1  # Adam's default rate, fine_tune.learning_rate_factor
PER_EPOCH = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("data") / "shapes", 8, seed=0)


def small_run(folder, *overrides: str) -> tuple[str, ...]:
    """MobileNetV2 on 32x32 shapes, 2 steps an epoch: seconds per phase on a CPU (eager steps:
    tracing MobileNetV2's train step again for phase 2 would take longer than the steps)."""
    return (
        "model=mobilenet_v2",
        "data=image_folder",
        f"data.path={folder}",
        "data.image_size=[32,32]",
        "data.batch_size=4",
        "fit.steps_per_epoch=2",
        "fit.validation_steps=1",
        "mlflow.log_model=false",
        "compile.run_eagerly=true",
        "fine_tune=two_phase",
        "fine_tune.head_epochs=2",
        *overrides,
    )


@pytest.fixture(scope="module")
def keras_home(tmp_path_factory):
    """A KERAS_HOME whose models/ holds MobileNetV2's no-top ImageNet file, as Keras names it.

    The file holds random weights in the legacy HDF5 layout that keras.applications loads.
    MobileNetV2's weights are fetched without a file hash, so Keras uses the cached file as it
    is; for the architectures fetched with a hash (ResNet50, VGG16, EfficientNet, ...) Keras
    would find a file other than the published one outdated and download it again, so only
    the real file can be cached for them.
    """
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    home = tmp_path_factory.mktemp("keras_home")
    (home / "models").mkdir()
    base = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    with h5py.File(home / "models" / MOBILENET_V2_FILE, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, base)
    return home


@pytest.fixture(scope="module")
def two_phases(tracking_uri, tmp_path_factory, folder, keras_home):
    """2 + 2 epochs, the top 20 layers unfrozen, ImageNet weights from the cache, offline."""
    run_dir = tmp_path_factory.mktemp("two_phases")
    overrides = small_run(folder, "model.weights=imagenet", "fit.epochs=4", "fine_tune.unfreeze=20")
    return run_train(tracking_uri, run_dir, *overrides, KERAS_HOME=str(keras_home), **OFFLINE)


def base_of_saved(run_dir):
    import keras

    from ktrain.models.backbone import base_of

    return base_of(keras.saving.load_model(run_dir / "model.keras"))


# --- ImageNet weights ----------------------------------------------------------------------


def test_imagenet_weights_offline_without_a_cached_file_are_refused_in_one_paragraph(
    tracking_uri, client, folder, tmp_path
):
    home, run_dir = tmp_path / "keras_home", tmp_path / "run"
    home.mkdir()
    message, output = refuse(
        tracking_uri,
        *small_run(folder, "model.weights=imagenet", "fit.epochs=3"),
        f"hydra.run.dir={run_dir}",
        KERAS_HOME=str(home),
        **OFFLINE,
    )
    assert message.startswith("Error: model.weights=imagenet: MobileNetV2's ImageNet weights, the file ")
    assert f"the file {MOBILENET_V2_FILE}, are not in Keras' cache" in message
    assert f"cannot be downloaded from {ORIGIN}" in message
    assert f"put it at {home / 'models' / MOBILENET_V2_FILE} (KERAS_HOME/models" in message
    assert "Epoch 1/" not in output  # refused before training
    recorded = client.get_run(Run(2, output, "", run_dir).run_id)
    assert recorded.info.status == "FAILED"
    assert recorded.data.tags["ktrain.error"] == message.removeprefix("Error: ")


def test_a_cached_imagenet_file_is_used_without_network(two_phases, keras_home):
    output = two_phases.stdout + two_phases.stderr
    assert f"MobileNetV2's ImageNet weights from Keras' cache: {keras_home / 'models' / MOBILENET_V2_FILE}" in output
    assert "Downloading data from" not in output


def test_keras_remarks_on_the_weights_it_loads_are_logged_not_warned(two_phases):
    # keras.applications warns that MobileNetV2's weights for 224x224 inputs serve these 32x32 ones.
    assert "UserWarning" not in two_phases.stdout + two_phases.stderr
    assert "Weights for input shape (224, 224) will be loaded" in (two_phases.run_dir / "train.log").read_text()


def test_a_local_weights_file_from_the_backbones_own_save_weights_is_loaded(tmp_path):
    import keras

    from ktrain.models.backbone import backbone, base_of

    saved = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    path = tmp_path / "mobilenet_v2.weights.h5"
    saved.save_weights(path)
    config = schema.validate(composed("model=mobilenet_v2", f"model.weights={path}"))
    assert config.model["weights"] == str(path)
    model = backbone((32, 32, 3), 3, "MobileNetV2", weights=config.model["weights"])
    for ours, theirs in zip(base_of(model).get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_weights_other_than_imagenet_null_or_a_file_are_refused():
    message = refusal("model=mobilenet_v2", "model.weights=imagenet21k")
    assert "model.weights='imagenet21k': no file at 'imagenet21k'; allowed: imagenet" in message
    assert "null (random init), or the path of an existing weights file" in message


# --- two phases ----------------------------------------------------------------------------


def test_the_two_phases_are_one_finished_run_with_every_epoch_once(two_phases, client):
    recorded = client.get_run(two_phases.run_id)
    assert recorded.info.status == "FINISHED"
    assert recorded.data.params["fine_tune"] == "two_phase"
    for key in PER_EPOCH:
        assert [m.step for m in client.get_metric_history(two_phases.run_id, key)] == [0, 1, 2, 3], key
    output = two_phases.stdout + two_phases.stderr
    assert "fine_tune: phase 1 of 2, epochs 1 to 2" in output and "fine_tune: phase 2 of 2, epochs 3 to 4" in output
    assert json.loads((two_phases.run_dir / "history.json").read_text())["epoch"] == [0, 1, 2, 3]
    assert (two_phases.run_dir / "epochs.csv").read_text().count("\n") == 5  # header + 4 epochs: appended


def test_the_learning_rate_drops_by_the_factor_at_the_phase_change(two_phases, client):
    rates = [m.value for m in client.get_metric_history(two_phases.run_id, "lr")]
    np.testing.assert_allclose(rates, [BASE_RATE] * 2 + [BASE_RATE * FACTOR] * 2, rtol=1e-6)


def trains(layer) -> bool:
    """Whether a layer with weights trains (an InputLayer, which has none, loads as trainable)."""
    return bool(layer.trainable_weights)


def test_phase_two_trains_the_top_layers_with_batch_normalization_frozen(two_phases):
    import keras

    base = base_of_saved(two_phases.run_dir)
    top, rest = base.layers[-20:], base.layers[:-20]
    assert not any(trains(layer) for layer in rest)
    for layer in top:
        if layer.weights:
            assert trains(layer) == (not isinstance(layer, keras.layers.BatchNormalization)), layer.name
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in top)


def test_fine_tune_is_refused_before_tensorflow_without_a_backbone_or_a_second_phase():
    process = cli("fine_tune=two_phase", "fine_tune.head_epochs=4", "fit.epochs=4")
    errors = [line for line in process.stderr.splitlines() if not line.startswith("import time:")]
    assert process.returncode == 2 and len(errors) == 1, errors
    assert "fine_tune trains a head on a frozen backbone and then the backbone, but model=simple_cnn" in errors[0]
    assert "fine_tune.head_epochs=4 leaves no epoch for the second phase with fit.epochs=4" in errors[0]
    assert not imported_tensorflow(process)
    assert "schedule=cosine would fight" in refusal("model=resnet50", "fine_tune=two_phase", "schedule=cosine")
    # head_epochs of at least 1 cannot fit into one epoch: only raising fit.epochs helps
    one = refusal("model=resnet50", "fine_tune=two_phase", "fine_tune.head_epochs=5", "fit.epochs=1")
    assert one.endswith("with fit.epochs=1; raise fit.epochs to at least 6."), one


def test_a_fine_tune_key_without_the_group_says_which_option_to_choose(tracking_uri):
    message, _ = refuse(tracking_uri, "fine_tune.head_epochs=3")
    assert "choose one first: fine_tune=two_phase fine_tune.head_epochs=3" in message


# --- resume across the phase change ---------------------------------------------------------


@pytest.fixture(scope="module")
def resumed(tracking_uri, tmp_path_factory, folder):
    """Random weights, 2 + 3 epochs; SIGKILLed once the backup holds epoch 3 (phase 2), resumed."""
    run_dir = tmp_path_factory.mktemp("resumed")
    first = start(tracking_uri, "fit.verbose=2", *small_run(folder, "fit.epochs=5"), f"hydra.run.dir={run_dir}")
    wait_for_backup(first, run_dir, 3)
    assert first.poll() is None, "the run ended before it could be killed"
    first.send_signal(signal.SIGKILL)
    killed = Run(first.wait(timeout=60), first.stdout.read(), "", run_dir)
    backed_up = json.loads((run_dir / "backup" / "state.json").read_text())
    finished = resume_to_the_end(tracking_uri, run_dir)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return killed, backed_up, Run(0, finished.stdout, finished.stderr, run_dir)


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_a_run_killed_in_phase_two_resumes_in_phase_two(resumed, client):
    killed, backed_up, finished = resumed
    assert killed.returncode == -signal.SIGKILL
    assert backed_up["phase"] == "fine_tune" and 3 <= backed_up["epoch"] < 5
    output = finished.stdout + finished.stderr
    assert "restored weights, optimizer state and callbacks" in output
    assert "fine_tune: phase 1" not in output
    assert f"fine_tune: phase 2 of 2, epochs {backed_up['epoch'] + 1} to 5" in output
    assert client.get_run(killed.run_id).info.status == "FINISHED"


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_every_epoch_of_both_phases_is_in_mlflow_once_after_the_resume(resumed, client):
    run_id = resumed[0].run_id
    for key in PER_EPOCH:
        assert [m.step for m in client.get_metric_history(run_id, key)] == list(range(5)), key
    rates = [m.value for m in client.get_metric_history(run_id, "lr")]
    np.testing.assert_allclose(rates[:3], [BASE_RATE, BASE_RATE, BASE_RATE * FACTOR], rtol=1e-6)
    assert all(rate <= BASE_RATE * FACTOR * (1 + 1e-6) for rate in rates[3:])  # reduce_lr may lower it


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_the_resumed_phase_two_has_its_trainable_layers_and_optimizer_state(resumed):
    import keras

    run_dir = resumed[-1].run_dir
    base = base_of_saved(run_dir)
    for layer in (layer for layer in base.layers if layer.weights):  # fine_tune.unfreeze=all
        assert trains(layer) == (not isinstance(layer, keras.layers.BatchNormalization)), layer.name
    model = keras.saving.load_model(run_dir / "model.keras")
    assert int(model.optimizer.iterations) == 3 * 2  # phase 2's optimizer: its 3 epochs of 2 steps


def test_the_backup_restores_once_when_a_run_fits_twice(tmp_path, caplog):
    import keras

    from ktrain.callbacks import RunBackup

    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[RunBackup(tmp_path, [], epochs=3)])
    backup = RunBackup(tmp_path, [], epochs=3)
    with caplog.at_level("INFO", logger="ktrain.callbacks.run_backup"):
        model.fit(x, y, initial_epoch=1, epochs=2, verbose=0, callbacks=[backup])
        model.fit(x, y, initial_epoch=2, epochs=3, verbose=0, callbacks=[backup])
    assert sum("resume: restored" in record.message for record in caplog.records) == 1
    assert backup.next_epoch == 3
