"""data=table end to end: a CSV of mixed columns (numbers, categories, missing values, a short
text) trained for a class, a number and a multi-label target, recorded with its datasets,
predicted through ktrain-predict from a CSV of raw rows, and served through mlflow.pyfunc (and,
slow, mlflow models serve) from a DataFrame of raw rows in another process and folder, with
the same numbers; a Parquet table with split files of its own; and the bad tables refused in
one paragraph (exit 2): a missing target column, an empty table, a CSV given to data=npz, a column
of numbers and words, and a CSV to predict that lacks a column the model takes."""

import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import export, python_elsewhere, refuse, run_train, script_env
from servers import free_port
from tables_data import LIKES, customers, customers_csv
from test_lineage import datasets
from test_predict import predict_config
from test_task_resume import _post

# target option -> (data.target, epochs)
TARGETS = {
    "class": ("segment", 8),
    "number": ("spend", 30),
    "multi_label": (f"[{','.join(LIKES)}]", 12),
}
NEW_ROWS = 80  # predicted: rows of another draw of the same customers, with their targets left in


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    new = customers(NEW_ROWS, seed=1)
    new.loc[0, ["age", "city", "review"]] = [np.nan, None, None]  # every kind of column missing once
    new.to_csv(folder / "new.csv", index=False)
    return customers_csv(folder), folder / "new.csv"


class Runs(dict):
    """A run of each kind of target, trained when a test first asks for it (about 15 s each),
    the other targets' columns left out of the features."""

    def __init__(self, path, tracking_uri, tmp_path_factory):
        super().__init__()
        self.path, self.tracking_uri, self.tmp_path_factory = path, tracking_uri, tmp_path_factory

    def __missing__(self, kind):
        target, epochs = TARGETS[kind]
        others = [c for c in ("segment", "spend", *LIKES) if c not in target]
        skipped = ", ".join(f"{column}: skip" for column in ("customer_id", *others))
        self[kind] = run_train(
            self.tracking_uri,
            self.tmp_path_factory.mktemp(kind),
            "data=table",
            f"data.path={self.path}",
            f"data.target={target}",
            f"+data.features={{{skipped}}}",
            "data.batch_size=32",
            f"fit.epochs={epochs}",
        )
        return self[kind]


@pytest.fixture(scope="module")
def runs(table, tracking_uri, tmp_path_factory):
    return Runs(table[0], tracking_uri, tmp_path_factory)


def predicted(tracking_uri, run, source, tmp_path, *overrides) -> list[dict]:
    from ktrain.cli.predict import run as predict_run

    output = tmp_path / f"{run.run_dir.name}.csv"
    predict_run(predict_config(tracking_uri, f"run={run.run_dir}", f"input={source}", f"output={output}", *overrides))
    return list(csv.DictReader(output.open()))


@pytest.mark.parametrize("kind", TARGETS)
def test_each_target_trains_and_records_its_columns_and_datasets(runs, client, table, kind):
    recorded = client.get_run(runs[kind].run_id)
    assert recorded.info.status == "FINISHED"
    name = TARGETS[kind][0] if kind != "multi_label" else "label"
    assert recorded.data.params[f"targets.{name}.kind"] == kind
    found = recorded.data.params["data.found.columns"]
    assert found == "age number, income number, plan category, city category, review text"
    logged = datasets(client, runs[kind].run_id)
    assert set(logged) == {"training", "validation", "testing"}
    train = logged["training"]
    assert train["name"] == "table-train" and len(train["digest"]) == 16
    assert train["source"]["uri"] == str(table[0])
    assert [spec["name"] for spec in train["schema"]["mlflow_colspec"]] == [
        "age",
        "income",
        "plan",
        "city",
        "review",
        name,
    ]
    assert sum(logged[c]["profile"]["rows"] for c in logged) == 600
    assert train["profile"]["columns"]["review"] == "text"
    assert len({entry["digest"] for entry in logged.values()}) == 3
    if kind == "class":
        assert set(train["profile"]["segment_counts"]) == {"business", "family", "starter"}


def test_class_predictions_from_a_csv_of_raw_rows_name_the_classes(runs, table, tracking_uri, tmp_path):
    rows = predicted(tracking_uri, runs["class"], table[1], tmp_path, "top_k=2")
    assert list(rows[0]) == ["index", "label", "score", "label_2", "score_2"]
    truth = pd.read_csv(table[1])["segment"]
    assert len(rows) == NEW_ROWS
    assert np.mean([row["label"] == segment for row, segment in zip(rows, truth)]) >= 0.9


def test_number_and_multi_label_predictions_from_a_csv_of_raw_rows(runs, table, tracking_uri, tmp_path):
    truth = pd.read_csv(table[1])
    numbers = predicted(tracking_uri, runs["number"], table[1], tmp_path)
    assert list(numbers[0]) == ["index", "spend"]
    error = np.abs(np.array([float(row["spend"]) for row in numbers]) - truth["spend"].to_numpy()).mean()
    assert error < 0.5 * np.abs(truth["spend"] - truth["spend"].mean()).mean()  # better than the mean by half
    labels = predicted(tracking_uri, runs["multi_label"], table[1], tmp_path)
    assert list(labels[0]) == ["index", "labels", *(f"score_{name}" for name in LIKES)]
    chosen = [row["labels"].split(";") for row in labels]
    right = [(name in found) == bool(truth[name][i]) for i, found in enumerate(chosen) for name in LIKES]
    assert np.mean(right) >= 0.9


PYFUNC = """
import json, sys
import mlflow
import pandas as pd

mlflow.set_tracking_uri(sys.argv[1])
rows = pd.read_csv(sys.argv[3])  # raw: whole numbers as int64, missing values as NaN
found = {}
for kind, run_id in json.loads(sys.argv[2]):
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    found[kind] = pd.DataFrame(model.predict(rows)).to_numpy().tolist()
print(json.dumps(found))
"""


def test_the_logged_models_take_a_dataframe_of_raw_rows_elsewhere_with_the_numbers_predict_gives(
    runs, table, tracking_uri, tmp_path
):
    jobs = json.dumps([(kind, runs[kind].run_id) for kind in TARGETS])
    printed = python_elsewhere(tracking_uri, tmp_path, PYFUNC, jobs, str(table[1]))
    served = {kind: np.array(values) for kind, values in printed.items()}
    classes = predicted(tracking_uri, runs["class"], table[1], tmp_path)
    np.testing.assert_allclose(served["class"].max(axis=1), [float(row["score"]) for row in classes], atol=1e-5)
    numbers = predicted(tracking_uri, runs["number"], table[1], tmp_path)
    np.testing.assert_allclose(served["number"][:, 0], [float(row["spend"]) for row in numbers], atol=1e-5)
    assert served["multi_label"].shape == (NEW_ROWS, len(LIKES))


def test_a_parquet_table_with_split_files_of_its_own_trains(tracking_uri, client, tmp_path):
    frames = {name: customers(rows, seed) for name, rows, seed in (("train", 400, 2), ("val", 60, 3), ("test", 60, 4))}
    for name, frame in frames.items():
        frame.drop(columns=["spend", *LIKES]).to_parquet(tmp_path / f"{name}.parquet")
    run = run_train(
        tracking_uri,
        tmp_path / "run",
        "data=table",
        f"data.path={tmp_path / 'train.parquet'}",
        f"data.val_path={tmp_path / 'val.parquet'}",
        f"data.test_path={tmp_path / 'test.parquet'}",
        "data.target=segment",
        "+data.features.customer_id=skip",
        "data.batch_size=32",
        "fit.epochs=6",
    )
    recorded = client.get_run(run.run_id)
    assert recorded.data.params["data.train_size"] == "400" and recorded.data.params["data.test_size"] == "60"
    assert recorded.data.metrics["test_accuracy"] >= 0.9
    logged = datasets(client, run.run_id)
    assert logged["validation"]["source"]["uri"] == str(tmp_path / "val.parquet")


# case -> (table written into the test's folder, overrides, phrases of the paragraph, whether a run starts)
TABLE = ["data=table", "data.target=segment"]
REFUSALS = {
    "a missing target column": (
        "customers.csv",
        ["data=table", "data.target=churned"],
        ["data.target names 'churned'", "its columns are customer_id, age"],
        False,
    ),
    "an empty table": ("empty.csv", TABLE, ["is an empty table", "holds no rows"], False),
    "a CSV given to data=npz": ("customers.csv", ["data=npz"], ["it is a table", "use data=table data.path="], False),
    "a column of numbers and words": (
        "mixed.csv",
        TABLE,
        ["'age' holds numbers", "give +data.features.age=category"],
        True,
    ),
    "a column with a slash in its name": (
        "slashed.csv",
        TABLE,
        ["the columns 'od280/od315' of", "hold a '/', which Keras does not allow", "such as 'od280_od315'"],
        False,
    ),
    "a word deep in a column of numbers": (
        "late.csv",
        TABLE,
        ["'age' of", "invalid value 'unknown'", "give +data.features.age=category"],
        True,
    ),
}


def bad_table(folder, name: str):
    """The table of a refusal: the customers as they are, with no rows, or with a word among the
    ages in the first rows (read when the columns' kinds are inferred) or past the first block."""
    frame = customers(30_000 if name == "late.csv" else 200)
    if name == "empty.csv":
        frame = frame.head(0)
    elif name == "slashed.csv":  # as scikit-learn's wine table names a column
        frame = frame.rename(columns={"age": "od280/od315"})
    elif name != "customers.csv":
        frame["age"] = frame["age"].astype(object)
        frame.loc[29_000 if name == "late.csv" else 5, "age"] = "unknown"
    frame.to_csv(folder / name, index=False)
    return folder / name


def test_rows_without_a_target_are_left_out_counted_in_the_log_and_the_params(tmp_path, caplog):
    from ktrain.data.table import TableData

    frame = customers(200)
    frame.loc[[3, 50, 120], "segment"] = None
    frame.drop(columns=["customer_id", "spend", *LIKES]).to_csv(tmp_path / "gaps.csv", index=False)
    with caplog.at_level("INFO", logger="ktrain"):
        data = TableData(str(tmp_path / "gaps.csv"), "segment")
    dropped = json.loads(data.spec.facts["rows_without_target"])
    assert sum(dropped.values()) == 3 and sum(data.spec.split_sizes.values()) == 197
    assert "data: 3 rows without a target value left out (" in caplog.text


@pytest.mark.parametrize("case", REFUSALS)
def test_a_bad_table_is_refused_in_one_paragraph(case, tracking_uri, client, tmp_path):
    name, overrides, phrases, started = REFUSALS[case]
    path = bad_table(tmp_path, name)
    paragraph, output = refuse(tracking_uri, *overrides, f"data.path={path}", "fit.epochs=1",
                               f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    for phrase in phrases:
        assert phrase in paragraph, paragraph
    assert ("mlflow: run" in output) == started
    if started:  # read while the run starts: recorded as FAILED
        run_id = output.split("mlflow: run ")[1].split()[0]
        assert client.get_run(run_id).info.status == "FAILED"


def test_a_table_without_a_column_the_model_takes_is_refused_by_predict(runs, table, tracking_uri, tmp_path):
    pd.read_csv(table[1]).drop(columns=["plan", "review"]).to_csv(tmp_path / "partial.csv", index=False)
    paragraph, _ = refuse(tracking_uri, f"run={runs['class'].run_dir}", f"input={tmp_path / 'partial.csv'}",
                          script="predict.py")  # fmt: skip
    assert "lacks the columns plan, review" in paragraph and "the columns age, city, income, plan, review" in paragraph


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
@pytest.mark.parametrize(
    "rows, phrases",
    [
        ("", ["input: ", "is an empty table: its header names 5 columns, but it holds no rows"]),
        ("old,50,basic,Oslo,great app\n", ["input: the column 'age' of", "holds numbers and other values",
                                             "the run's model reads it as numbers"]),
    ],
    ids=["a header without rows", "a word in a column of numbers"],
)  # fmt: skip
def test_a_table_predict_cannot_read_is_refused_naming_input(runs, rows, phrases, tracking_uri, tmp_path):
    (tmp_path / "new.csv").write_text("age,income,plan,city,review\n" + rows)
    paragraph, _ = refuse(tracking_uri, f"run={runs['class'].run_dir}", f"input={tmp_path / 'new.csv'}",
                          script="predict.py")  # fmt: skip
    assert all(phrase in paragraph for phrase in phrases), paragraph
    assert "data.path" not in paragraph and "data.features" not in paragraph  # no training setting applies


@pytest.mark.slow
def test_mlflow_models_serve_answers_a_dataframe_of_raw_rows_as_ktrain_predict_does(
    runs, table, tracking_uri, tmp_path
):
    rows = predicted(tracking_uri, runs["class"], table[1], tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"runs:/{runs['class'].run_id}/model",
               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(command, cwd=tmp_path, env=script_env(tracking_uri), stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    frame = pd.read_csv(table[1])
    body = json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}).encode()
    try:
        answer = _post(f"http://127.0.0.1:{port}/invocations", body, server, tmp_path / "serve.log")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    served = np.asarray(json.loads(answer)["predictions"])
    np.testing.assert_allclose(served.max(axis=1), [float(row["score"]) for row in rows], atol=1e-5)


@pytest.mark.slow
def test_a_saved_model_takes_the_raw_columns_and_onnx_is_refused_naming_a_lookup(runs, tracking_uri):
    """The table's preprocessing layers go into the export with the model: a SavedModel takes the
    run's raw columns, strings among them; ONNX's runtime has no kernel for a string lookup."""
    run = runs["class"]
    assert "largest difference from Keras on 5 inputs: 0" in export(tracking_uri, run.run_dir, "saved_model")
    message, _ = refuse(tracking_uri, f"run={run.run_dir}", "format=[onnx]", script="export.py")
    assert "format=onnx cannot hold this model: the layer" in message and "(StringLookup)" in message, message
