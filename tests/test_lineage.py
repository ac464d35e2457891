"""Where a run's data came from, in MLflow: each split an MLflow dataset with its source, digest,
schema and profile; the same files give the same digest, and a changed file another."""

import json

import pytest

from conftest import run_train
from images import make_image_folder


def datasets(client, run_id) -> dict[str, dict]:
    """The run's datasets by context (training, validation, testing)."""
    found = {}
    for entry in client.get_run(run_id).inputs.dataset_inputs:
        context = next(tag.value for tag in entry.tags if tag.key == "mlflow.data.context")
        dataset = entry.dataset
        found[context] = {
            "name": dataset.name,
            "digest": dataset.digest,
            "source": json.loads(dataset.source),
            "schema": json.loads(dataset.schema) if dataset.schema else None,
            "profile": json.loads(dataset.profile),
        }
    return found


def test_each_split_of_the_default_run_is_a_dataset_with_its_profile(tracking_uri, client, tmp_path):
    run = run_train(tracking_uri, tmp_path / "run", "debug=fast", "mlflow.log_model=true")
    logged = datasets(client, run.run_id)
    assert set(logged) == {"training", "validation", "testing"}
    train = logged["training"]
    assert train["name"] == "digits-train" and len(train["digest"]) == 16
    assert train["profile"]["rows"] == 1257 and sum(train["profile"]["label_counts"].values()) == 1257
    assert [spec["name"] for spec in train["schema"]["mlflow_colspec"]] == ["input", "target"]
    assert len({entry["digest"] for entry in logged.values()}) == 3  # three different splits
    experiment = client.get_run(run.run_id).info.experiment_id
    models = client.search_logged_models([experiment], filter_string=f"source_run_id = '{run.run_id}'")
    measured_on = {  # each model's metrics name the split each was measured on
        model.tags["ktrain.checkpoint"]: {metric.key: metric.dataset_name for metric in model.metrics}
        for model in models
    }
    assert set(measured_on["final"].values()) == {"digits-test"} and "test_accuracy" in measured_on["final"]
    assert measured_on["best"]["val_loss"] == "digits-val" and measured_on["best"]["loss"] == "digits-train"
    again = run_train(tracking_uri, tmp_path / "again", "debug=fast")
    assert datasets(client, again.run_id)["training"]["digest"] == train["digest"]


@pytest.mark.slow  # three image-folder runs (about 22 s)
def test_the_same_image_files_give_the_same_digest_and_a_changed_file_another(tracking_uri, client, tmp_path):
    folder = make_image_folder(tmp_path / "shapes", 12, seed=0)
    settings = ("data=image_folder", f"data.path={folder}", "data.image_size=[32,32]", "debug=fast")
    run = run_train(tracking_uri, tmp_path / "first", *settings)
    assert "Warning" not in run.stderr, run.stderr[-3000:]  # MLflow's about the folder as a source
    first = datasets(client, run.run_id)
    second = datasets(client, run_train(tracking_uri, tmp_path / "second", *settings).run_id)
    assert first["training"]["source"]["uri"].endswith("shapes")
    assert [first[c]["digest"] for c in first] == [second[c]["digest"] for c in first]
    changed = sorted((folder / "circle").iterdir())[0]
    make_image_folder(tmp_path / "other", 1, seed=7)  # a new picture for that file
    changed.write_bytes((tmp_path / "other" / "circle" / "0.jpg").read_bytes())
    third = datasets(client, run_train(tracking_uri, tmp_path / "third", *settings).run_id)
    moved = [c for c in first if first[c]["digest"] != third[c]["digest"]]
    assert len(moved) == 1  # the split that holds the changed file, and only it
