"""A user's own data modules in every form Keras' fit takes, and a user's own layers, losses and
metrics: trained to FINISHED, predicted, and loaded elsewhere through mlflow.pyfunc."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, python_elsewhere, refuse, run_train, script_env
from tasks_data import digits, project


@pytest.fixture(scope="module")
def user_project(tmp_path_factory):
    folder = project(tmp_path_factory.mktemp("project"))
    np.save(folder / "digits.npy", digits()[0][:40])
    x = digits()[0][:40]
    np.savez(folder / "two.npz", pixels=x, columns=x.reshape(-1, 8, 8).sum(axis=1) / 255.0)
    return folder


def train_in(folder, tracking_uri, run_dir, *overrides, **kwargs):
    return run_train(tracking_uri, run_dir, f"--config-dir={folder / 'conf'}", *overrides, **kwargs)


def predict_in(folder, tracking_uri, run_dir, source, *overrides) -> list[dict]:
    """``predict.py`` run from the project folder, as a user runs ktrain-predict there."""
    output = folder / f"{run_dir.name}.csv"
    process = subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), f"run={run_dir}", f"input={source}", f"output={output}", *overrides],
        cwd=folder,
        env=script_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return list(csv.DictReader(output.open()))


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_two_inputs_and_two_outputs_train_predict_and_serve(user_project, tracking_uri, client, tmp_path):
    run = train_in(user_project, tracking_uri, tmp_path / "two", "data=two_heads", "model=mlp", "fit.epochs=6")
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED"
    assert {"test_digit_accuracy", "test_ink_mae", "test_loss"} <= set(recorded.data.metrics)
    rows = predict_in(user_project, tracking_uri, run.run_dir, user_project / "two.npz")
    assert list(rows[0]) == ["index", "digit.label", "digit.score", "ink.ink"]
    labels = digits()[1][:40]
    assert np.mean([row["digit.label"] == str(d) for row, d in zip(rows, labels)]) >= 0.8
    served = serve_elsewhere(tracking_uri, tmp_path, run.run_id, user_project / "two.npz", named=True)
    np.testing.assert_allclose(np.ravel(served["ink"]), [float(row["ink.ink"]) for row in rows], atol=1e-5)


# Slow (about 45 s): each source also trains to its end after a kill in test_task_resume.py.
@pytest.mark.slow
@pytest.mark.parametrize("option", ["pydataset", "generator"])
def test_a_pydataset_and_a_generator_train_to_the_end(user_project, tracking_uri, client, tmp_path, option):
    run = train_in(user_project, tracking_uri, tmp_path / option, f"data={option}", "model=mlp", "fit.epochs=3")
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED" and recorded.data.metrics["test_accuracy"] > 0.8
    assert len(client.get_metric_history(run.run_id, "val_loss")) == 3
    rows = predict_in(user_project, tracking_uri, run.run_dir, user_project / "digits.npy")
    assert np.mean([row["label"] == str(d) for row, d in zip(rows, digits()[1][:40])]) >= 0.8
    served = serve_elsewhere(tracking_uri, tmp_path, run.run_id, user_project / "digits.npy")
    assert np.asarray(served).shape == (40, 10)


def test_a_generator_without_steps_is_refused_before_it_trains(user_project, tracking_uri, tmp_path):
    paragraph, output = refuse(
        tracking_uri,
        f"--config-dir={user_project / 'conf'}",
        "data=generator",
        "+data.with_steps=false",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert "the train split is a generator, which never ends by itself" in paragraph
    assert "fit.steps_per_epoch=<batches>" in paragraph and "Epoch 1/" not in output


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_a_users_own_layer_loss_and_metrics_travel_with_the_model(user_project, tracking_uri, client, tmp_path):
    """Trained from the project folder (its module only there), the model predicts through
    ktrain-predict, starts a new run as model=saved, and loads through mlflow.pyfunc in a folder
    where the module is not."""
    run = train_in(
        user_project,
        tracking_uri,
        tmp_path / "custom",
        "model=mine",
        "data=npz",
        f"data.path={user_project / 'digits.npz'}",
        "compile.loss={_target_: myobjects.SmoothCrossentropy, smoothing: 0.1}",
        "compile.metrics=[myobjects.Hits, myobjects.confidence, accuracy]",
        "fit.epochs=6",
    )
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED" and recorded.data.metrics["test_accuracy"] > 0.8
    assert {"hits", "confidence"} <= set(recorded.data.metrics)
    rows = predict_in(user_project, tracking_uri, run.run_dir, user_project / "digits.npy")
    assert np.mean([row["label"] == str(d) for row, d in zip(rows, digits()[1][:40])]) >= 0.8
    again = train_in(
        user_project,
        tracking_uri,
        tmp_path / "again",
        "model=saved",
        f"model.from_run={run.run_dir}",
        "data=npz",
        f"data.path={user_project / 'digits.npz'}",
        "fit.epochs=1",
    )
    assert client.get_run(again.run_id).info.status == "FINISHED"
    served = serve_elsewhere(tracking_uri, tmp_path, run.run_id, user_project / "digits.npy")
    np.testing.assert_allclose(np.asarray(served).max(axis=1), [float(row["score"]) for row in rows], atol=1e-5)


PYFUNC = """
import json, sys
import mlflow
import numpy as np

mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(f"runs:/{sys.argv[2]}/model")
assert "myobjects" not in sys.modules or sys.modules["myobjects"].__file__.find("/code/") >= 0
source = np.load(sys.argv[3])
inputs = {name: source[name].astype("float32") for name in source.files} if sys.argv[4] == "named" else source
outputs = model.predict(inputs)
if isinstance(outputs, dict):
    print(json.dumps({name: np.asarray(values).tolist() for name, values in outputs.items()}))
else:
    print(json.dumps(np.asarray(outputs).tolist()))
"""


def serve_elsewhere(tracking_uri, tmp_path, run_id, source, named=False):
    """The logged model's outputs for ``source``, loaded through mlflow.pyfunc in a process whose
    folder holds none of the project's modules."""
    return python_elsewhere(tracking_uri, tmp_path, PYFUNC, run_id, str(source), "named" if named else "one")


@pytest.fixture(scope="module", autouse=True)
def digits_npz(user_project):
    x, labels = digits()
    np.savez(user_project / "digits.npz", x=x, y=labels)


def test_a_grain_dataset_trains_to_the_end(user_project, tracking_uri, client, tmp_path):
    pytest.importorskip("grain")
    run = train_in(user_project, tracking_uri, tmp_path / "grain", "data=grain", "model=mlp", "fit.epochs=2")
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED" and recorded.data.metrics["test_accuracy"] > 0.6


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (
            [
                "model._target_=projectdata.three_outputs",
                "~model.hidden_units",
                "~model.dropout",
                "~model.preprocessing",
            ],
            "model._target_=projectdata.three_outputs does not fit the data: the model's output for the target "
            "'label' (class) is shaped (3,) per sample, where it takes (10,)",
        ),
        (["+data.target=val_digit"], "must not start with 'val_'"),
        (["fit.class_weight=balanced", "data=two_heads"], "fit.class_weight weighs the classes of one target"),
        (
            ["fit.class_weight={{3: 2.0, 12: 2.0}}"],
            "fit.class_weight weighs class index 12, and the target 'label' has 10 classes, indices 0 to 9: 0 (0), "
            "1 (1), 2 (2), 3 (3), ....",
        ),
        (
            ["data=npz", "data.path={project}/digits.npz", "data.target_kind=number", "fit.class_weight={{0: 2.0}}"],
            "fit.class_weight weighs the classes of a class or binary target, and the target 'label' is number",
        ),
        (
            [
                "data=npz",
                "data.path={project}/digits.npz",
                "data.target_kind=number",
                "model._target_=projectdata.needs_classes",
                "~model.hidden_units",
                "~model.dropout",
                "~model.preprocessing",
            ],
            "model._target_=projectdata.needs_classes needs num_classes, which the data give for one target with "
            "classes, and their targets are label (number)",
        ),
    ],
    ids=[
        "a head that does not fit",
        "an output named val_...",
        "balanced weights for two targets",
        "weights for a class the target lacks",
        "weights for a target without classes",
        "num_classes of numbers",
    ],
)
def test_what_does_not_fit_the_targets_is_refused_in_one_paragraph(
    user_project, tracking_uri, client, tmp_path, overrides, expected
):
    paragraph, _ = refuse(
        tracking_uri,
        f"--config-dir={user_project / 'conf'}",
        "data=bad_head",
        "model=mlp",
        *(override.format(project=user_project) for override in overrides),
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert expected in paragraph
