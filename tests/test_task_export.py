"""ktrain-export serves every kind of target: each format written, run in its own runtime on the
run's sample inputs and matching Keras' outputs, for one output of each kind and for two inputs
and two outputs. Slow: a run and three conversions each."""

import pytest

from conftest import export, run_train
from tasks_data import data_of, kinds_and_project

pytestmark = pytest.mark.slow

CASES = {
    "binary": ["model=mlp", "model.hidden_units=[16]"],
    "multi_label": ["model=mlp", "model.hidden_units=[16]"],
    "number": ["model=mlp", "model.hidden_units=[16]"],
    "mask": ["model=unet", "model.filters=[8]", "data.batch_size=16"],
    "two_heads": ["data=two_heads", "model=mlp", "model.hidden_units=[16]"],
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return kinds_and_project(tmp_path_factory, ("binary", "multi_label", "number"))


@pytest.mark.parametrize("case", CASES)
def test_every_kind_exports_to_each_format_matching_keras(data, case, tracking_uri, client, tmp_path):
    files, folder = data
    where = data_of(files, folder, case)
    run = run_train(tracking_uri, tmp_path / "run", *where, *CASES[case], "fit.epochs=1")
    logs = export(tracking_uri, run.run_dir, "saved_model,onnx,litert")
    for name in ("saved_model", "onnx", "litert"):
        assert f"export: {name} at" in logs
    logged = {artifact.path for artifact in client.list_artifacts(run.run_id, "export")}
    assert {"export/model.onnx", "export/model.tflite", "export/saved_model"} <= logged
