"""From run to deployment, against a real ``mlflow server`` on a SQLite store (README, "From
run to deployment"): a run registers its model with an alias and ``predict.py`` predicts from
the alias; its checkpoints are LoggedModels ranked by ``val_loss``; it logs system metrics;
``export.py`` writes SavedModel, ONNX and LiteRT, each matching Keras' outputs in its own
runtime; a sweep registers its best child (slow)."""

import json
import subprocess
import sys

import mlflow
import numpy as np
import pytest

from conftest import ROOT, run_sweep, run_train, script_env
from servers import mlflow_server

REGISTERED = "digits"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("deployment_server")
    with mlflow_server(root, f"sqlite:///{root / 'mlflow.db'}") as (url, _):
        yield url


@pytest.fixture(scope="module")
def client(server):
    return mlflow.MlflowClient(server)


@pytest.fixture(scope="module")
def registered(server, tmp_path_factory):
    """A digits CNN of 5 epochs, each epoch's checkpoint kept (the newest 3), registered."""
    return run_train(
        server,
        tmp_path_factory.mktemp("registered"),
        "fit.epochs=5",
        "~callbacks.early_stopping",
        "mlflow.checkpoints=every",
        f"mlflow.register={REGISTERED}",
    )


def script(name: str, tracking_uri: str, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    process = subprocess.run(
        [sys.executable, name, *args], cwd=ROOT, env=script_env(tracking_uri, **env), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    if check:
        assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    return process


def test_a_run_registers_its_model_with_an_alias_and_its_metric(registered, client):
    version = client.get_model_version_by_alias(REGISTERED, "champion")
    run = client.get_run(registered.run_id)
    model_id = version.source.removeprefix("models:/")  # a server's version does not carry model_id
    assert version.run_id == registered.run_id and model_id.startswith("m-")
    assert version.tags["ktrain.monitor"] == "val_loss" and version.tags["ktrain.run_id"] == registered.run_id
    assert float(version.tags["best_val_loss"]) == pytest.approx(run.data.metrics["best_val_loss"], rel=1e-5)
    final = client.get_logged_model(model_id)
    assert final.name == "model" and final.tags["ktrain.checkpoint"] == "final"
    tested = {key: value for key, value in run.data.metrics.items() if key.startswith("test_")}
    assert {m.key: m.value for m in final.metrics} == tested


def test_predict_from_the_alias_is_predict_from_the_run(registered, server, tmp_path):
    pixels = tmp_path / "pixels.npy"
    np.save(pixels, np.load(registered.run_dir / "sample_inputs.npy"))
    by_alias = script("predict.py", server, f"run=models:/{REGISTERED}@champion", f"input={pixels}", "top_k=2")
    by_run = script("predict.py", server, f"run={registered.run_dir}", f"input={pixels}", "top_k=2")
    assert by_alias.stdout == by_run.stdout and len(by_alias.stdout.splitlines()) == 6
    assert "Downloading artifacts" not in by_alias.stderr, by_alias.stderr[-3000:]  # a bar for each file fetched


def test_an_alias_the_registry_lacks_is_refused_with_the_aliases_it_has(registered, server, tmp_path):
    np.save(tmp_path / "pixels.npy", np.zeros((1, 8, 8, 1), dtype="float32"))
    refused = script("predict.py", server, f"run=models:/{REGISTERED}@production", f"input={tmp_path / 'pixels.npy'}",
                     check=False)  # fmt: skip
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert (
        f"Error: models:/{REGISTERED}@production: the registered model '{REGISTERED}' has no alias @production "
        "(its aliases: @champion; its latest version: 1)" in refused.stderr
    )


def test_a_registered_model_starts_a_new_run(server, tmp_path):
    started = run_train(
        server, tmp_path, "model=saved", f"model.from_run=models:/{REGISTERED}@champion", "fit.epochs=1",
        "mlflow.log_model=false",
    )  # fmt: skip
    assert "test: accuracy=" in started.stdout + started.stderr


def test_the_checkpoints_are_logged_models_ranked_by_val_loss(registered, client, server):
    experiment_id = client.get_run(registered.run_id).info.experiment_id
    mlflow.set_tracking_uri(server)  # as the README's example reads them
    ranked = mlflow.search_logged_models(
        experiment_ids=[experiment_id],
        filter_string=f"source_run_id = '{registered.run_id}' AND tags.`ktrain.checkpoint` != 'final'",
        order_by=[{"field_name": "metrics.val_loss", "ascending": True}],
        output_format="list",
    )
    history = {m.step: m.value for m in client.get_metric_history(registered.run_id, "val_loss")}
    assert len(history) == 5  # linking the checkpoints' metrics added no second value to the run's
    # The newest 3 epochs' files are kept, and so are their models; each links its epoch's metrics.
    assert sorted(m.tags["ktrain.checkpoint.artifact"] for m in ranked) == [
        f"checkpoints/epochs/epoch-{epoch:05d}.keras" for epoch in (3, 4, 5)
    ]
    steps = {output.model_id: output.step for output in client.get_run(registered.run_id).outputs.model_outputs}
    for model in ranked:
        assert model.status == "READY" and model.tags["ktrain.checkpoint"] == "epoch"
        (val_loss,) = [m for m in model.metrics if m.key == "val_loss"]
        assert val_loss.step == steps[model.model_id] and val_loss.value == history[val_loss.step]
    values = [history[steps[m.model_id]] for m in ranked]
    assert values == sorted(values) and values[0] == min(history[step] for step in (2, 3, 4))


def test_a_resumed_run_replaces_the_checkpoint_models_of_its_earlier_process(client):
    from ktrain.tracking.logged_models import CheckpointModels

    experiment_id = client.create_experiment("resumed_checkpoints")
    run_id = client.create_run(experiment_id).info.run_id
    for epoch in (1, 3):  # two processes of one run, each sending its best checkpoint
        models = CheckpointModels(client, run_id, lambda epoch: None)
        models.sent("best", "checkpoints/best.keras", epoch)
        assert models.close() == 1
    (best,) = client.search_logged_models([experiment_id])
    assert best.tags["ktrain.checkpoint"] == "best"
    assert [o.step for o in client.get_run(run_id).outputs.model_outputs if o.model_id == best.model_id] == [3]


def test_a_run_logs_system_metrics(registered, client):
    metrics = client.get_run(registered.run_id).data.metrics
    for key in ("cpu_utilization_percentage", "system_memory_usage_megabytes", "disk_usage_percentage",
                "network_receive_megabytes"):  # fmt: skip
        assert f"system/{key}" in metrics
    samples = client.get_metric_history(registered.run_id, "system/cpu_utilization_percentage")
    assert [m.step for m in samples] == list(range(len(samples))) and len(samples) >= 2


def test_export_writes_three_formats_each_matching_keras_in_its_runtime(registered, client, tmp_path):
    # Run from a shell whose MLFLOW_TRACKING_URI names another store: a run dir's files go to the
    # store its record names, the server. Its KERAS_BACKEND=jax (a user who trains on JAX) does
    # not apply: on JAX, Keras' ONNX export would ask for jax2onnx.
    elsewhere = f"sqlite:///{tmp_path / 'another.db'}"
    formats = "format=[saved_model,onnx,litert]"
    exported = script("export.py", elsewhere, f"run={registered.run_dir}", formats, KERAS_BACKEND="jax")
    folder = registered.run_dir / "export"
    inputs = np.load(registered.run_dir / "sample_inputs.npy").astype("float32")
    import keras
    import onnxruntime
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    expected = keras.saving.load_model(registered.run_dir / "model.keras").predict(inputs, verbose=0)
    serve = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]
    (served,) = serve(tf.constant(inputs)).values()
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
    (onnx_outputs,) = session.run(None, {session.get_inputs()[0].name: inputs})
    interpreter = Interpreter(model_path=str(folder / "model.tflite"))
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], inputs.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], inputs)
    interpreter.invoke()
    litert_outputs = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    for outputs in (served.numpy(), onnx_outputs, litert_outputs):
        np.testing.assert_allclose(outputs, expected, atol=1e-4)
    logged = {a.path for a in client.list_artifacts(registered.run_id, "export")}
    assert logged == {"export/saved_model", "export/model.onnx", "export/model.tflite"}
    assert exported.stderr.count("largest difference from Keras on 5 inputs") == 3
    assert "export: on Keras' TensorFlow backend, which writes every format (not KERAS_BACKEND=jax)" in exported.stderr


def test_an_export_beyond_its_tolerance_fails_saying_by_how_much(registered, server, tmp_path):
    refused = script("export.py", server, f"run=models:/{REGISTERED}@champion", "format=onnx", "tolerance=1e-15",
                     f"output={tmp_path}", check=False)  # fmt: skip
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    (paragraph,) = [line for line in refused.stderr.splitlines() if line.startswith("Error: ")]
    assert "format=onnx: the exported model's outputs in its runtime differ from the Keras model's" in paragraph
    assert "more than tolerance=1e-15" in paragraph


def test_a_format_that_cannot_hold_a_layer_is_refused_naming_it(tmp_path):
    import keras

    from ktrain.errors import UserError
    from ktrain.export.formats import FORMATS, write

    class Determinant(keras.layers.Layer):  # MatrixDeterminant: no LiteRT built-in op
        def call(self, x):
            return keras.ops.expand_dims(keras.ops.det(keras.ops.reshape(x[:, :4, :4, 0], (-1, 4, 4))), -1)

    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Concatenate()([keras.layers.Flatten()(inputs), Determinant(name="determinant")(inputs)])
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(features))
    refusal = "format=litert cannot hold this model: the layer 'determinant' \\(Determinant\\) needs the op MatrixDet"
    with pytest.raises(UserError, match=refusal):
        write(FORMATS["litert"], model, tmp_path / "model.tflite")
    assert not (tmp_path / "model.tflite").exists()


@pytest.mark.slow
def test_a_sweep_registers_its_best_child(server, client, tmp_path):
    sweep = run_sweep(
        server, tmp_path, "optimizer.learning_rate=1e-2,1e-5", "mlflow.log_model=true", "mlflow.register=digits_sweep"
    )
    assert sweep.returncode == 0, sweep.output[-3000:]
    parent = client.get_run(sweep.parent_run_id).data.tags
    version = client.get_model_version_by_alias("digits_sweep", "champion")
    assert version.run_id == parent["ktrain.best_run_id"] and parent["ktrain.best_model_version"] == "digits_sweep/1"
    assert len(client.search_model_versions("name = 'digits_sweep'")) == 1  # the children registered nothing


@pytest.mark.slow
def test_a_one_minute_run_logs_system_metrics_every_few_seconds(server, client, tmp_path):
    trained = run_train(server, tmp_path, "fit.epochs=400", "~callbacks.early_stopping", "~callbacks.reduce_lr",
                        "mlflow.log_model=false", "fit.verbose=0")  # fmt: skip
    run = client.get_run(trained.run_id)
    assert (run.info.end_time - run.info.start_time) / 1000 >= 60, "the run was shorter than a minute"
    samples = client.get_metric_history(trained.run_id, "system/cpu_utilization_percentage")
    assert len(samples) >= 15  # 2 s apart for 20 s, then 4 s: 20 in the first minute
    assert json.loads((tmp_path / "mlflow_run.json").read_text())["run_id"] == trained.run_id
