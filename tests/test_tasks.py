"""Every kind of target from an .npz file, end to end: trained to FINISHED, predicted through
ktrain-predict as its task decodes it, and loaded through mlflow.pyfunc in another process
from another folder, with the same numbers."""

import csv
import json

import numpy as np
import pytest

from conftest import python_elsewhere, refuse, run_train
from tasks_data import digits, ink, npz_of, squares_folder, squares_npz
from test_predict import predict_config

KINDS = ("class", "binary", "multi_label", "number")
EPOCHS = {"number": 40}  # a regression learns slower than the digits' classes
SAMPLES = 60  # predicted from the start of the file: most of them were trained on
# The README's example, weights for 2 of the 10 classes: the other 8 weigh 1 (Keras looked them
# up beyond a table of 2 weights, and the run crashed).
WEIGHTS = {"class": ["fit.class_weight={0: 1.0, 1: 2.5}"]}


@pytest.fixture(scope="module")
def runs(tracking_uri, tmp_path_factory):
    """A run of each kind: an MLP on the digits' pixels; a U-Net on squares for masks."""
    folder = tmp_path_factory.mktemp("npz")
    runs = {}
    for kind in KINDS:
        path = npz_of(kind, folder)
        runs[kind] = run_train(
            tracking_uri,
            tmp_path_factory.mktemp(kind),
            "data=npz",
            f"data.path={path}",
            "model=mlp",
            "model.hidden_units=[64]",
            f"fit.epochs={EPOCHS.get(kind, 12)}",
            "data.batch_size=64",
            *WEIGHTS.get(kind, ()),
        )
    squares = squares_npz(folder)
    runs["mask"] = run_train(
        tracking_uri,
        tmp_path_factory.mktemp("mask"),
        "data=npz",
        f"data.path={squares}",
        "model=unet",
        "model.filters=[8,16]",
        "fit.epochs=12",
        "data.batch_size=16",
    )
    return runs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    np.save(folder / "digits.npy", digits()[0][:SAMPLES])
    with np.load(squares_npz(folder)) as squares:
        np.save(folder / "squares.npy", squares["x"][:SAMPLES])
        masks = squares["y"][:SAMPLES]
    return folder, masks


def predicted(tracking_uri, run, source, tmp_path, *overrides) -> list[dict]:
    from ktrain.cli.predict import run as predict_run

    output = tmp_path / f"{run.run_dir.name}.csv"
    predict_run(predict_config(tracking_uri, f"run={run.run_dir}", f"input={source}", f"output={output}", *overrides))
    return list(csv.DictReader(output.open()))


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_trains_and_records_its_target(runs, client, kind):
    recorded = client.get_run(runs[kind].run_id)
    assert recorded.info.status == "FINISHED"
    assert recorded.data.params["targets.label.kind"] == kind
    assert (
        kind in recorded.data.params["data.found.target_kind"]
        and "guessed from y" in recorded.data.params["data.found.target_kind"]
    )
    described = json.loads((runs[kind].run_dir / "targets.json").read_text())
    assert [target["kind"] for target in described] == [kind]
    assert "test_loss" in recorded.data.metrics


def test_class_predictions_name_the_classes(runs, inputs, tracking_uri, tmp_path):
    rows = predicted(tracking_uri, runs["class"], inputs[0] / "digits.npy", tmp_path, "top_k=2")
    assert list(rows[0]) == ["index", "label", "score", "label_2", "score_2"]
    labels = digits()[1][:SAMPLES]
    assert np.mean([row["label"] == f"digit {d}" for row, d in zip(rows, labels)]) >= 0.9


def test_binary_rows_at_or_above_the_threshold_get_the_positive_label(runs, inputs, tracking_uri, tmp_path):
    source = inputs[0] / "digits.npy"
    rows = predicted(tracking_uri, runs["binary"], source, tmp_path)
    assert list(rows[0]) == ["index", "label", "probability"]
    for row in rows:
        assert row["label"] == ("zero" if float(row["probability"]) >= 0.5 else "other")
    truth = digits()[1][:SAMPLES] == 0
    assert np.mean([(row["label"] == "zero") == zero for row, zero in zip(rows, truth)]) >= 0.9
    strict = predicted(tracking_uri, runs["binary"], source, tmp_path, "threshold=0.99")
    assert all(r["label"] == ("zero" if float(r["probability"]) >= 0.99 else "other") for r in strict)


def test_multi_label_rows_list_the_labels_over_the_threshold_and_every_probability(
    runs, inputs, tracking_uri, tmp_path
):
    rows = predicted(tracking_uri, runs["multi_label"], inputs[0] / "digits.npy", tmp_path, "threshold=0.4")
    names = ("even", "big", "threefold")
    assert list(rows[0]) == ["index", "labels", *(f"score_{name}" for name in names)]
    for row in rows:
        over = [name for name in names if float(row[f"score_{name}"]) >= 0.4]
        assert row["labels"] == ";".join(over)
    labels = digits()[1][:SAMPLES]
    even = [("even" in row["labels"].split(";")) == (d % 2 == 0) for row, d in zip(rows, labels)]
    assert np.mean(even) >= 0.8


def test_number_predictions_are_the_values_in_named_columns(runs, inputs, tracking_uri, tmp_path):
    rows = predicted(tracking_uri, runs["number"], inputs[0] / "digits.npy", tmp_path)
    assert list(rows[0]) == ["index", "ink", "value"]
    x, labels = digits()
    predicted_ink = np.array([float(row["ink"]) for row in rows])
    value = np.array([float(row["value"]) for row in rows])
    assert np.abs(predicted_ink - ink(x)[:SAMPLES]).mean() < 0.6  # the mean would be off by 0.8
    assert np.abs(value - labels[:SAMPLES] / 9).mean() < 0.2  # by 0.28


def test_the_npz_file_a_run_trained_on_is_predicted_from_its_x(runs, inputs, tracking_uri, tmp_path):
    trained_on = npz_of("binary", tmp_path)  # x, y and class_names, as data=npz read them
    for folder in ("npz", "npy"):
        (tmp_path / folder).mkdir()
    from_npz = predicted(tracking_uri, runs["binary"], trained_on, tmp_path / "npz")
    from_npy = predicted(tracking_uri, runs["binary"], inputs[0] / "digits.npy", tmp_path / "npy")
    assert len(from_npz) == len(digits()[0]) and from_npz[:SAMPLES] == from_npy


def test_mask_predictions_are_png_files_of_the_class_indices(runs, client, inputs, tracking_uri, tmp_path):
    from PIL import Image

    recorded = client.get_run(runs["mask"].run_id)
    assert recorded.info.status == "FINISHED" and recorded.data.params["targets.label.kind"] == "mask"
    rows = predicted(tracking_uri, runs["mask"], inputs[0] / "squares.npy", tmp_path)
    assert list(rows[0]) == ["index", "mask"]
    masks = np.stack([np.asarray(Image.open(row["mask"])) for row in rows])
    truth = inputs[1]
    assert masks.shape == truth.shape and set(np.unique(masks)) <= {0, 1}
    intersection, union = ((masks == 1) & (truth == 1)).sum(), ((masks == 1) | (truth == 1)).sum()
    assert intersection / union >= 0.5


PYFUNC = """
import json, sys
import mlflow
import numpy as np

mlflow.set_tracking_uri(sys.argv[1])
found = {}
for kind, run_id, source in json.loads(sys.argv[2]):
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    found[kind] = np.asarray(model.predict(np.load(source).astype("float32"))).tolist()
print(json.dumps(found))
"""


def test_every_kind_loads_through_pyfunc_elsewhere_with_the_numbers_predict_gives(runs, inputs, tracking_uri, tmp_path):
    folder = inputs[0]
    jobs = [
        (kind, runs[kind].run_id, str(folder / ("squares.npy" if kind == "mask" else "digits.npy"))) for kind in runs
    ]
    found = python_elsewhere(tracking_uri, tmp_path, PYFUNC, json.dumps(jobs))
    served = {kind: np.array(values) for kind, values in found.items()}
    binary = predicted(tracking_uri, runs["binary"], folder / "digits.npy", tmp_path)
    np.testing.assert_allclose(served["binary"][:, 0], [float(r["probability"]) for r in binary], atol=1e-5)
    numbers = predicted(tracking_uri, runs["number"], folder / "digits.npy", tmp_path)
    np.testing.assert_allclose(served["number"], [[float(r["ink"]), float(r["value"])] for r in numbers], atol=1e-5)
    assert served["class"].shape == (SAMPLES, 10) and served["multi_label"].shape == (SAMPLES, 3)
    assert served["mask"].shape == (SAMPLES, 16, 16, 2)


@pytest.mark.parametrize(
    "kind, setting, expected",
    [
        ("number", "compile.loss=sparse_categorical_crossentropy",
         ["compile.loss does not fit the data: sparse_categorical_crossentropy takes class index",
          "the target 'label' is number", "mean_squared_error"]),
        # Keras weighs a sample by the index of its largest value: a multi-label row's first label.
        ("multi_label", "fit.class_weight={0: 1.0, 1: 2.5}",
         ["fit.class_weight weighs the classes of a class or binary target",
          "is multi_label; leave fit.class_weight null"]),
    ],
    ids=["a loss that does not fit the target", "class weights for a multi-label target"],
)  # fmt: skip
def test_what_does_not_fit_the_target_is_refused(kind, setting, expected, tmp_path, tracking_uri):
    path = npz_of(kind, tmp_path)
    paragraph, _ = refuse(
        tracking_uri, "data=npz", f"data.path={path}", "model=mlp", setting, f"hydra.run.dir={tmp_path / 'run'}"
    )
    for phrase in expected:
        assert phrase in paragraph, paragraph


def test_a_guess_is_overridden_by_target_kind(tmp_path, tracking_uri, client):
    """Integer-valued numbers that are no class indices never fail on stratification: they are
    guessed numbers; and data.target_kind says what the data are when a guess is wrong."""
    x, labels = digits()
    path = tmp_path / "counts.npz"
    np.savez(path, x=x, y=(x > 128).sum(axis=1))  # how many bright pixels: integers, some seen once
    run = run_train(
        tracking_uri,
        tmp_path / "run",
        "data=npz",
        f"data.path={path}",
        "model=mlp",
        "model.hidden_units=[16]",
        "fit.epochs=1",
    )
    assert client.get_run(run.run_id).data.params["targets.label.kind"] == "number"
    np.savez(path, x=x, y=labels)
    run = run_train(
        tracking_uri,
        tmp_path / "forced",
        "data=npz",
        f"data.path={path}",
        "data.target_kind=number",
        "model=mlp",
        "model.hidden_units=[16]",
        "fit.epochs=1",
    )
    params = client.get_run(run.run_id).data.params
    assert params["targets.label.kind"] == "number" and params["data.found.target_kind"] == "number (data.target_kind)"


def test_an_image_folder_with_masks_beside_it_trains_a_unet_and_predicts_masks(tracking_uri, client, tmp_path):
    from PIL import Image

    folder = squares_folder(tmp_path / "squares")
    (folder / "masks" / "000.png").unlink()  # an image without its mask is named
    paragraph, _ = refuse(
        tracking_uri,
        "data=image_folder",
        f"data.path={folder / 'images'}",
        f"data.masks={folder / 'masks'}",
        "model=unet",
        f"hydra.run.dir={tmp_path / 'refused'}",
    )
    assert "1 images have no mask" in paragraph and "000.png" in paragraph
    (folder / "images" / "000.png").unlink()
    paragraph, _ = refuse(
        tracking_uri,
        "data=image_folder",
        f"data.path={folder / 'images'}",
        f"data.masks={folder / 'masks'}",
        "data.augmentation.flip=horizontal",
        "model=unet",
    )
    assert "augmentation.flip would move each image and not its mask" in paragraph
    run = run_train(
        tracking_uri,
        tmp_path / "run",
        "data=image_folder",
        f"data.path={folder / 'images'}",
        f"data.masks={folder / 'masks'}",
        "data.image_size=[16,16]",
        "data.color_mode=grayscale",
        "data.class_names=[background,square]",
        "data.batch_size=8",
        "model=unet",
        "model.filters=[8]",
        "fit.epochs=2",
    )
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED" and recorded.data.params["targets.label.kind"] == "mask"
    rows = predicted(tracking_uri, run, folder / "images", tmp_path)
    assert len(rows) == 59 and Image.open(rows[0]["mask"]).size == (16, 16)
