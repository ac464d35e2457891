"""The catalogue of bad inputs found once a run has started (README, Troubleshooting).

Each is refused with one paragraph, exit 2 and no traceback (``conftest.refuse``), and the
MLflow run is FAILED with that paragraph as its reason, its log file kept; the traceback is
in the log file, not on the console.
"""

import numpy as np
import pytest

from conftest import Run, refuse
from images import make_image_folder
from ktrain.errors import UserError


def npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_files")
    images = np.zeros((40, 8, 8), dtype="uint8")
    npz(root / "no_arrays.npz", features=images)
    npz(root / "lengths.npz", x=images, y=np.zeros(39, dtype=int))
    npz(root / "labels.npz", x=images, y=np.arange(40) % 4, class_names=np.array(["a", "b", "c"]))
    npz(root / "numbers.npz", x=images, y=np.linspace(-3.5, 3.5, 40))
    make_image_folder(root / "corrupt", 2, seed=0)
    for path in (root / "corrupt").rglob("*.jpg"):
        path.write_bytes(b"not a jpeg")
    return root


# id: (overrides, with {files} for the folder of bad files; a phrase of the paragraph)
CASES = {
    "npz missing arrays": (["data=npz", "data.path={files}/no_arrays.npz"], "it needs 'x' and 'y'"),
    "npz with mismatched lengths": (["data=npz", "data.path={files}/lengths.npz"], "x has 40 samples but y has 39"),
    "labels out of range": (["data=npz", "data.path={files}/labels.npz"], "labels from 0 to 3, but 3 class names"),
    "numbers taken for classes": (
        ["data=npz", "data.path={files}/numbers.npz", "data.target_kind=class", "model=mlp"],
        "the target has 40 classes, the smallest with 1 sample(s), and each split needs at least one of every "
        "class. Its values are not whole numbers (such as -3.5), so they are no class indices: give "
        "data.target_kind=number",
    ),
    "only corrupt images": (
        ["data=image_folder", "data.path={files}/corrupt", "data.image_size=[8,8]"],
        "no readable image in the class folders",
    ),
    "NaN loss": (
        ["optimizer=sgd", "optimizer.learning_rate=1e8"],
        "the training loss became NaN in epoch 1 (learning rate 1e+08), so the run stopped",
    ),
    "batch size larger than the data": (
        ["data.batch_size=5000"],
        "data.batch_size=5000 is larger than the train split (1257 samples)",
    ),
    "steps_per_epoch beyond the data": (
        ["fit.steps_per_epoch=100"],
        "fit.steps_per_epoch=100 is more than the train split holds: 1257 samples "
        "in batches of 32 make 40 steps. Give fit.steps_per_epoch of at most 40",
    ),
    "unknown loss": (["compile.loss=not_a_loss"], "compile.loss=not_a_loss is not a Keras loss"),
    "misspelt callback class": (
        ["+callbacks.nan._target_=keras.callbacks.TerminateOnNan"],
        "callbacks.nan._target_=keras.callbacks.TerminateOnNan cannot be imported: module 'keras.callbacks' has no "
        "attribute 'TerminateOnNan' (did you mean keras.callbacks.TerminateOnNaN?)",
    ),
    "misspelt metric": (
        ["compile.metrics=[acuracy]"],
        "compile.metrics has acuracy, which is not a Keras metric (did you mean accuracy?)",
    ),
    "data module without a spec": (
        ["data._target_=types.SimpleNamespace"],
        "data._target_=types.SimpleNamespace built a SimpleNamespace without spec and split, which a data "
        "module must have (ktrain.contracts.DataModule): spec, a ktrain.data.DataSpec",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_input_found_in_a_run_fails_it_with_the_reason(case, files, tracking_uri, client, tmp_path):
    overrides, phrase = CASES[case]
    args = [arg.format(files=files) for arg in overrides]
    paragraph, output = refuse(
        tracking_uri, "fit.verbose=0", "mlflow.log_model=false", "fit.epochs=2", f"hydra.run.dir={tmp_path}", *args
    )
    assert phrase in paragraph
    run = client.get_run(Run(2, output, "", tmp_path).run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["ktrain.error"] == paragraph.removeprefix("Error: ")
    assert "train.log" in {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "Traceback" in (tmp_path / "train.log").read_text()


def test_a_nan_loss_stops_before_the_checkpoint_and_the_backup_see_the_epoch(tmp_path):
    import keras

    from ktrain.callbacks import StopOnNonFiniteLoss
    from ktrain.data.arrays import DigitsData
    from ktrain.models.small import simple_cnn

    class PoisonAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kernel = self.model.layers[-1].kernel
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))

    data = DigitsData(batch_size=64)
    model = simple_cnn(data.spec.input_shape, data.spec.num_classes)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    checkpoint = tmp_path / "last.keras"
    with pytest.raises(
        UserError, match="became NaN in epoch 2 .* the checkpoints and the backup of epochs 1 to 1 are kept"
    ):
        model.fit(
            **data.split("train").fit_args(),
            epochs=5,
            verbose=0,
            callbacks=[StopOnNonFiniteLoss(), keras.callbacks.ModelCheckpoint(checkpoint), PoisonAfterFirstEpoch()],
        )
    saved = keras.saving.load_model(checkpoint)
    assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in saved.weights)
