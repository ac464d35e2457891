"""data=text_folder end to end: a folder of .txt files per class trains model=text_cnn to FINISHED,
records its splits with digests, predicts through ktrain-predict on .txt files, a folder of
them and a CSV column, and serves raw strings through mlflow.pyfunc (slow: mlflow models serve);
and a folder without text, or text given to a model of numbers, is refused in one paragraph."""

import csv
import json
import logging
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import Run, python_elsewhere, refuse, run_train
from servers import models_serve_answer
from test_tasks import predicted

WORDS = {
    "neg": ["bad", "awful", "terrible", "boring", "hated", "dull"],
    "pos": ["good", "great", "wonderful", "excellent", "loved", "superb"],
}
FILLER = ["the", "a", "movie", "film", "plot", "actors", "it", "was", "and", "i", "this", "story"]
TRAIN = ("model=text_cnn", "model.embedding_dim=16", "model.filters=16", "model.sequence_length=32")


def reviews_folder(root: Path, per_class: int = 40, seed: int = 0) -> Path:
    """Short reviews, one .txt file each, in pos/ and neg/: filler words and three of the class's."""
    rng = random.Random(seed)
    for label, words in WORDS.items():
        (root / label).mkdir(parents=True)
        for index in range(per_class):
            text = [rng.choice(FILLER) for _ in range(10)] + [rng.choice(words) for _ in range(3)]
            rng.shuffle(text)
            (root / label / f"{index:03d}.txt").write_text(" ".join(text) + "\n")
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return reviews_folder(tmp_path_factory.mktemp("reviews"))


@pytest.fixture(scope="module")
def run(tracking_uri, tmp_path_factory, folder):
    return run_train(
        tracking_uri,
        tmp_path_factory.mktemp("text"),
        "data=text_folder",
        f"data.path={folder}",
        *TRAIN,
        "fit.epochs=12",
        "data.batch_size=16",
        "optimizer.learning_rate=0.01",
    )


def test_a_text_folder_trains_and_records_each_split_with_its_digest(run, client, folder):
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED"
    assert recorded.data.params["targets.label.kind"] == "class"
    assert recorded.data.metrics["test_accuracy"] >= 0.8
    assert json.loads((run.run_dir / "class_names.json").read_text()) == ["neg", "pos"]
    datasets = {entry.dataset.name: entry.dataset for entry in recorded.inputs.dataset_inputs}
    assert set(datasets) == {"text_folder-train", "text_folder-val", "text_folder-test"}
    for dataset in datasets.values():
        assert re.fullmatch(r"[0-9a-f]{16}", dataset.digest)
        assert json.loads(dataset.source)["uri"] == str(folder)
        schema = json.loads(dataset.schema)["mlflow_colspec"]
        assert [(spec["name"], spec["tensor-spec"]["dtype"]) for spec in schema] == [
            ("text", "str"),
            ("label", "int64"),
        ]
    assert len({dataset.digest for dataset in datasets.values()}) == 3
    profile = json.loads(datasets["text_folder-train"].profile)
    assert profile["rows"] == 56 and profile["label_counts"] == {"neg": 28, "pos": 28}


def test_the_digest_is_the_files_and_a_second_look_reads_none_again(folder, tmp_path, caplog):
    from ktrain.data.text_folder import TextFolderData

    copy = shutil.copytree(folder, tmp_path / "reviews")
    with caplog.at_level(logging.INFO, logger="ktrain.data.checked_files"):
        first = TextFolderData(str(copy))
        again = TextFolderData(str(copy))
    assert "read 80 text files to check them; 0 were known" in caplog.text
    assert "read 0 text files to check them; 80 were known" in caplog.text
    digests = {split: first.lineage(split).digest for split in ("train", "val", "test")}
    assert {split: again.lineage(split).digest for split in digests} == digests
    changed = Path(first._files["test"][0][0])
    changed.write_text(changed.read_text() + "and more words\n")
    later = TextFolderData(str(copy))
    assert later.lineage("test").digest != digests["test"]
    assert later.lineage("train").digest == digests["train"]


def test_txt_files_a_folder_of_them_and_a_csv_column_are_predicted(run, folder, tracking_uri, tmp_path):
    one = predicted(tracking_uri, run, folder / "pos" / "000.txt", tmp_path)
    assert list(one[0]) == ["path", "label", "score"] and len(one) == 1
    whole = predicted(tracking_uri, run, folder, tmp_path)
    assert len(whole) == 80
    assert np.mean([row["label"] == Path(row["path"]).parent.name for row in whole]) >= 0.9
    texts = [(path.read_text(), path.parent.name) for path in sorted(folder.glob("*/00[0-4].txt"))]
    table = tmp_path / "reviews.csv"
    with table.open("w", newline="") as file:
        csv.writer(file).writerows([("id", "review"), *((f"r{i}", text) for i, (text, _) in enumerate(texts))])
    rows = predicted(tracking_uri, run, table, tmp_path, "column=review")
    assert list(rows[0]) == ["row", "label", "score"] and [row["row"] for row in rows] == [str(i) for i in range(10)]
    assert [row["label"] for row in rows] == [label for _, label in texts]
    scores = {row["path"]: row["score"] for row in whole}
    assert [row["score"] for row in rows] == [scores[str(p)] for p in sorted(folder.glob("*/00[0-4].txt"))]


PYFUNC = """
import json, sys
import mlflow
import numpy as np
import pandas as pd

mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(f"runs:/{sys.argv[2]}/model")
texts = json.loads(sys.argv[3])
found = {
    "list": np.asarray(model.predict(texts)).tolist(),
    "frame": np.asarray(model.predict(pd.DataFrame({"review": texts}))).tolist(),
}
print(json.dumps(found))
"""


def test_the_logged_model_serves_raw_strings_from_another_folder(run, folder, tracking_uri, tmp_path):
    texts = ["a great and wonderful film", "boring plot, i hated it", "superb"]
    found = python_elsewhere(tracking_uri, tmp_path, PYFUNC, run.run_id, json.dumps(texts))
    served = {form: np.array(values) for form, values in found.items()}
    assert served["list"].shape == (3, 2)
    np.testing.assert_allclose(served["frame"], served["list"], atol=1e-6)
    table = tmp_path / "texts.csv"
    with table.open("w", newline="") as file:
        csv.writer(file).writerows([("text",), *((text,) for text in texts)])
    rows = predicted(tracking_uri, run, table, tmp_path, "column=text")
    np.testing.assert_allclose(served["list"].max(axis=1), [float(row["score"]) for row in rows], atol=1e-5)
    assert [row["label"] for row in rows] == ["pos", "neg", "pos"]


def _no_txt(root: Path) -> Path:
    for label in ("neg", "pos"):
        (root / label).mkdir(parents=True)
        (root / label / "notes.md").write_text("not a .txt file\n")
    return root


def _empty(root: Path) -> Path:
    for label in ("neg", "pos"):
        (root / label).mkdir(parents=True)
        (root / label / "a.txt").write_text("")
        (root / label / "b.txt").write_text("  \n")
    return root


REFUSED = {  # case: (the folder, the model, what the paragraph says, whether a run had started: FAILED[, env])
    "no .txt files": (_no_txt, "model=text_cnn", "no text files (.txt) in the class folders neg, pos", False),
    "files without text": (
        _empty,
        "model=text_cnn",
        "no readable text in the class folders neg, pos (every file is empty or not UTF-8)",
        True,
    ),
    "text for a model of numbers": (reviews_folder, "model=mlp", "model=mlp takes numbers, and the data are", True),
    "text on the JAX backend": (
        reviews_folder,
        "model=text_cnn",
        "model=text_cnn keeps TextVectorization inside the model, which takes strings on the TensorFlow backend only",
        True,
        {"KERAS_BACKEND": "jax"},
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_folder_without_text_or_text_for_a_model_of_numbers_is_refused(case, tracking_uri, client, tmp_path):
    make, model, expected, failed, *env = REFUSED[case]
    data, run_dir = make(tmp_path / "data"), tmp_path / "run"
    arguments = ("data=text_folder", f"data.path={data}", model, f"hydra.run.dir={run_dir}")
    message, output = refuse(tracking_uri, *arguments, **(env[0] if env else {}))
    assert expected in message, message
    if not failed:  # refused by validation, before the MLflow run and TensorFlow
        assert "mlflow: run" not in output and "Invalid config: data.path=" in message
        return
    recorded = client.get_run(Run(2, output, "", run_dir).run_id)
    assert recorded.info.status == "FAILED"
    assert recorded.data.tags["ktrain.error"] == message.removeprefix("Error: ")


def test_numbers_for_the_text_model_are_refused_before_it_is_built(tracking_uri, client, tmp_path):
    run_dir = tmp_path / "run"
    message, output = refuse(tracking_uri, "data=digits", "model=text_cnn", f"hydra.run.dir={run_dir}")
    assert "model=text_cnn takes text, one string per sample" in message and "float32" in message, message
    assert "Epoch 1/" not in output
    assert client.get_run(Run(2, output, "", run_dir).run_id).info.status == "FAILED"


@pytest.mark.slow
def test_mlflow_models_serve_answers_strings_as_ktrain_predict_does(run, tracking_uri, tmp_path):
    texts = ["a great and wonderful film", "boring plot, i hated it"]
    answer = models_serve_answer(tracking_uri, run.run_id, {"inputs": texts}, tmp_path)
    table = tmp_path / "texts.csv"
    with table.open("w", newline="") as file:
        csv.writer(file).writerows([("text",), *((text,) for text in texts)])
    rows = predicted(tracking_uri, run, table, tmp_path, "column=text")
    served = np.asarray(answer["predictions"])
    np.testing.assert_allclose(served.max(axis=1), [float(row["score"]) for row in rows], atol=1e-5)


@pytest.mark.slow
def test_a_saved_model_takes_strings_and_onnx_is_refused_naming_the_vectorizer(run, tracking_uri, client):
    """TextVectorization's string ops are TensorFlow's: a SavedModel holds them, and ONNX's
    converter writes them too, but onnxruntime has no kernel for them, nor LiteRT among its
    built-in ops. The formats that pass are still exported and logged."""
    formats = "format=[saved_model,onnx,litert]"
    message, output = refuse(tracking_uri, f"run={run.run_dir}", formats, script="export.py")
    assert "saved_model at" in output and "largest difference from Keras on 5 inputs: 0" in output  # raw strings
    assert "format=onnx cannot hold this model: the layer 'vectorize' (TextVectorization)" in message, message
    assert "format=litert cannot hold this model: the layer 'vectorize' (TextVectorization)" in message, message
    assert message.endswith("The other formats passed and were logged to the run: saved_model.")
    assert {artifact.path for artifact in client.list_artifacts(run.run_id, "export")} == {"export/saved_model"}
    # Neither TensorFlow's remark on the lookup table nor the LiteRT converter's diagnostics.
    assert "table_initializer" not in output and "neither a custom op" not in output.replace(message, "")


PREDICT_REFUSED = {  # case: (the input, the overrides, what the paragraph says)
    "a CSV file without column=": ("{tmp}/texts.csv", [], "is a CSV file: give column=<the column of texts"),
    "a column the CSV file lacks": (
        "{tmp}/texts.csv",
        ["column=review"],
        "has no column 'review'; its columns are text",
    ),
    "images for a model of text": ("{tmp}/image.png", [], "The run's model takes text: give a .txt file"),
    "texts for a model of numbers": ("{folder}/pos/000.txt", ["run={numbers}"], "takes images or arrays, not text"),
}


@pytest.mark.parametrize("case", PREDICT_REFUSED)
def test_predictions_of_inputs_the_model_does_not_take_are_refused(case, run, folder, tracking_uri, tmp_path):
    from PIL import Image

    (tmp_path / "texts.csv").write_text("text\na great film\n")
    Image.new("RGB", (8, 8)).save(tmp_path / "image.png")
    given, overrides, expected = PREDICT_REFUSED[case]
    places = {"tmp": tmp_path, "folder": folder}
    if case == "texts for a model of numbers":
        places["numbers"] = run_train(
            tracking_uri, tmp_path / "numbers", "data=synthetic", "data.input_shape=[4]", "model=mlp", "fit.epochs=1"
        ).run_dir
    arguments = [f"run={run.run_dir}", f"input={given.format(**places)}", *(o.format(**places) for o in overrides)]
    message, _ = refuse(tracking_uri, *arguments, script="predict.py")
    assert expected in message, message
