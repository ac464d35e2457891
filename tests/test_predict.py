"""A run trained on an image folder, then predict.py on unseen images by run dir and by run id."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from conftest import ROOT, refuse, run_train, script_env
from images import SHAPES, make_image_folder


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = make_image_folder(tmp_path_factory.mktemp("shapes"), 30, seed=0, formats=("JPEG", "PNG", "BMP", "GIF"))
    (root / "circle" / "corrupt.jpg").write_bytes(b"this is not an image")
    (root / "square" / ".DS_Store").write_bytes(b"hidden")
    (root / "stripes" / "labels.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def unseen(tmp_path_factory):
    """Images the run never saw, in nested folders, with one that cannot be read and one of a
    type TensorFlow does not decode."""
    root = make_image_folder(
        tmp_path_factory.mktemp("unseen") / "batch" / "nested", 4, seed=99, formats=("PNG", "JPEG")
    )
    (root / "square" / "broken.png").write_bytes(b"\x89PNG broken")
    (root / "square" / "scan.tif").write_bytes(b"II*\x00")
    return root.parent.parent


@pytest.fixture(scope="module")
def trained(shapes, tracking_uri, tmp_path_factory):
    return run_train(
        tracking_uri,
        tmp_path_factory.mktemp("image_run"),
        "data=image_folder",
        f"data.path={shapes}",
        "data.image_size=[32,32]",
        "data.batch_size=16",
        "data.augmentation.flip=horizontal",
        "data.cache=memory",
        "fit.epochs=8",
        "fit.class_weight=balanced",
        timeout=600,
    )


def predict_config(tracking_uri, *overrides):
    """The config ``predict.py OVERRIDES`` runs on, from the shipped conf/predict.yaml."""
    with initialize_config_dir(str(ROOT / "ktrain" / "conf"), version_base="1.3"):
        return compose("predict", overrides=[f"mlflow.tracking_uri={tracking_uri}", *overrides])


@pytest.fixture
def predict(tracking_uri, tmp_path):
    """``predict(run, input, *overrides)``: predict.py in this process; returns the CSV rows."""
    from ktrain.cli.predict import run as predict_run

    def run(run, input, *overrides):
        output = tmp_path / "predictions.csv"
        predict_run(predict_config(tracking_uri, f"run={run}", f"input={input}", f"output={output}", *overrides))
        return list(csv.reader(output.open()))

    return run


def accuracy(rows):
    """Share of rows whose label is the class folder the image sits in."""
    return np.mean([row[1] == row[0].split("/")[-2] for row in rows[1:]])


def test_training_on_the_folder_learns_the_shapes_and_names_the_bad_file(trained, client, shapes):
    run = client.get_run(trained.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["test_accuracy"] >= 0.8
    assert run.data.params["data"] == "image_folder"
    assert run.data.params["data.input_shape"] == "[32, 32, 3]"
    assert (run.data.params["data.train_size"], run.data.params["data.test_size"]) == ("63", "18")
    assert json.loads((trained.run_dir / "class_names.json").read_text()) == list(SHAPES)
    out = trained.stdout + trained.stderr
    assert (
        "skipping 1 of 91 image files that cannot be decoded (data.on_bad_file=skip):\n"
        f"  {shapes / 'circle' / 'corrupt.jpg'}" in out
    )
    assert "shuffle=True` was passed" not in out


def test_predict_cli_by_run_id_writes_the_ranked_csv(trained, unseen, tracking_uri, tmp_path):
    output = tmp_path / "by_id.csv"
    process = subprocess.run(
        [sys.executable, "predict.py", f"run={trained.run_id}", f"input={unseen}", f"output={output}", "top_k=3"],
        cwd=ROOT,
        env=script_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    assert process.stdout == ""
    assert f"predict: model runs:/{trained.run_id}/model/" in process.stderr  # not the download's temporary path
    square = unseen / "batch/nested/square"
    assert f"skipping 2 of 14 files that cannot be decoded:\n  {square / 'broken.png'}\n  {square / 'scan.tif'}" in (
        process.stderr
    )
    rows = list(csv.reader(output.open()))
    assert rows[0] == ["path", "label", "score", "label_2", "score_2", "label_3", "score_3"]
    assert len(rows) == 13 and all(row[0].startswith(str(unseen)) for row in rows[1:])
    assert accuracy(rows) >= 0.8
    for row in rows[1:]:
        assert sorted(row[1::2]) == sorted(SHAPES)
        scores = [float(s) for s in row[2::2]]
        assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1, abs=1e-4)


def test_run_dir_and_run_id_give_the_same_predictions(trained, unseen, predict):
    by_dir = predict(trained.run_dir, unseen)
    assert by_dir == predict(trained.run_id, unseen) and len(by_dir) == 13
    assert predict(trained.run_dir, unseen, "checkpoint=best") == predict(trained.run_id, unseen, "checkpoint=best")


def test_npy_input_gives_row_indices_and_the_same_labels_as_the_images(trained, unseen, predict, tmp_path):
    from ktrain.data.image_folder import load_image

    by_path = predict(trained.run_dir, unseen)[1:]
    pixels = np.stack([load_image(row[0], (32, 32), "rgb").numpy() for row in by_path])
    np.save(tmp_path / "pixels.npy", pixels)
    rows = predict(trained.run_dir, tmp_path / "pixels.npy")
    assert rows[0] == ["index", "label", "score"]
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(len(by_path))]
    assert [row[1] for row in rows[1:]] == [row[1] for row in by_path]


def test_without_output_the_table_is_printed(trained, unseen, tracking_uri, capsys):
    from ktrain.cli.predict import run as predict_run

    image = next(unseen.rglob("*.jpg"))
    predict_run(predict_config(tracking_uri, f"run={trained.run_dir}", f"input={image}"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["path", "label", "score"]
    assert len(lines) == 2 and lines[1].split()[0] == str(image)


def refusal(predict, capsys, run, input, *overrides) -> str:
    with pytest.raises(SystemExit) as exit:
        predict(run, input, *overrides)
    assert exit.value.code == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("Error: ")
    return errors[0]


def test_inputs_that_do_not_fit_the_model_are_refused(trained, unseen, predict, capsys, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((2, 28, 28, 3)))
    message = refusal(predict, capsys, trained.run_dir, tmp_path / "wrong.npy")
    assert "holds an array shaped (2, 28, 28, 3) (float64); the run's model takes samples shaped (32, 32, 3)" in message
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.md").write_text("no images here, and no .txt files")
    assert "holds no image files" in refusal(predict, capsys, trained.run_dir, tmp_path / "empty")
    assert "the model knows 3 classes" in refusal(predict, capsys, trained.run_dir, unseen, "top_k=4")
    (tmp_path / "not_a_run").mkdir()
    message = refusal(predict, capsys, tmp_path / "not_a_run", unseen)
    assert "is a folder without model.keras: the run did not finish" in message


def test_bad_settings_are_refused_by_validation(unseen, predict, capsys, tmp_path):
    message = refusal(predict, capsys, "x", tmp_path / "missing.png", "top_k=0", "checkpoint=last")
    assert message == (
        f"Error: Invalid config: input='{tmp_path / 'missing.png'}': no file or folder at "
        f"'{tmp_path / 'missing.png'}'; give an image file, a folder of images, a .npy or .npz file, a .txt file, a "
        "folder of them, a .csv file with column= (texts), or a table (.csv, .parquet) of raw rows; "
        "checkpoint='last': input should be 'final' or 'best'; top_k=0: input should be greater than or equal to 1."
    )


def test_predict_cli_refuses_a_missing_run_before_tensorflow(unseen, tmp_path):
    store = f"sqlite:///{tmp_path / 'no_store.db'}"
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "predict.py", f"run={tmp_path / 'nowhere'}", f"input={unseen}"],
        cwd=ROOT,
        env=script_env(store),
        capture_output=True,
        text=True,
        timeout=60,
    )
    errors = [line for line in process.stderr.splitlines() if not line.startswith("import time:")]
    assert process.returncode == 2
    assert errors == [
        f"Error: run='{tmp_path / 'nowhere'}' is neither a run dir nor the id of a run in the MLflow store at "
        f"{store}; give the run dir or the MLflow run id that train.py printed (set "
        "MLFLOW_TRACKING_URI or mlflow.tracking_uri for another store)."
    ]
    assert not any(line.endswith((" tensorflow", " keras")) for line in process.stderr.splitlines())


def test_a_model_whose_only_object_of_its_own_is_its_loss_loads_without_that_module(tmp_path, monkeypatch):
    # Loaded for predicting, a model is not compiled: its loss's module is not needed.
    import importlib
    import sys

    import keras

    from ktrain.models.custom_objects import load_model

    (tmp_path / "projectloss.py").write_text(
        "import keras\n\n\nclass Halved(keras.losses.Loss):\n"
        "    def call(self, y_true, y_pred):\n"
        "        return keras.losses.mean_squared_error(y_true, y_pred) / 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    loss = importlib.import_module("projectloss").Halved()
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss=loss)
    model.save(tmp_path / "model.keras")
    monkeypatch.delitem(sys.modules, "projectloss")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    loaded = load_model(tmp_path / "model.keras", "run")
    assert loaded.output_shape == (None, 1)


@pytest.mark.parametrize(
    "script, output, said",
    [
        ("predict.py", "{tmp}", "is a folder; give the path of the CSV file to write"),
        ("predict.py", "{tmp}/a_file/rows.csv", "a_file is a file, so nothing can be written beneath it"),
        ("export.py", "{tmp}/a_file", "is a file; give a folder, which export makes if missing"),
    ],
    ids=["predict to a folder", "predict beneath a file", "export to a file"],
)
def test_an_output_that_cannot_be_written_is_refused_before_tensorflow(
    script, output, said, trained, unseen, tracking_uri, tmp_path
):
    (tmp_path / "a_file").write_text("taken")
    given = output.format(tmp=tmp_path)
    inputs = [f"input={unseen}"] if script == "predict.py" else []
    paragraph, out = refuse(tracking_uri, f"run={trained.run_dir}", *inputs, f"output={given}", script=script)
    assert paragraph.startswith(f"Error: Invalid config: output='{given}': ") and said in paragraph, paragraph
    assert "Error executing job" not in out
