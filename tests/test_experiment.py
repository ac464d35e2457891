"""experiment=caltech101_resnet50: the tutorials' recipe as one file, composed and smoke-run."""

import subprocess
import sys

import pytest

from conftest import ROOT, script_env
from images import make_image_folder
from ktrain import schema
from test_config import composed


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("data") / "101_ObjectCategories", 8, seed=0)


def test_the_recipe_composes_to_the_tutorials_settings(folder):
    config = schema.validate(composed("experiment=caltech101_resnet50", f"data.path={folder}"))
    assert config.data["_target_"] == "ktrain.data.image_folder.ImageFolderData"
    assert (config.data["image_size"], config.data["batch_size"]) == ([224, 224], 32)
    assert (config.model["architecture"], config.model["weights"]) == ("ResNet50", None)
    assert (config.option("optimizer"), config.optimizer["learning_rate"]) == ("adam", 3e-4)
    assert (config.fit.epochs, config.fit.class_weight) == (50, "balanced")
    assert set(config.callbacks) >= {"early_stopping", "model_checkpoint", "reduce_lr"}
    assert config.callbacks["early_stopping"]["monitor"] == "val_accuracy"
    assert config.callbacks["model_checkpoint"]["save_best_only"] is True


def test_the_finetune_recipe_is_the_recipe_with_imagenet_weights_and_two_phases(folder):
    plain = schema.validate(composed("experiment=caltech101_resnet50", f"data.path={folder}"))
    config = schema.validate(composed("experiment=caltech101_resnet50_finetune", f"data.path={folder}"))
    assert (config.model["weights"], config.model["trainable"]) == ("imagenet", False)  # frozen for phase 1
    assert config.fine_tune.model_dump() == {"head_epochs": 5, "unfreeze": "all", "learning_rate_factor": 0.1}
    assert (config.data, config.optimizer, config.fit, config.callbacks) == (
        plain.data,
        plain.optimizer,
        plain.fit,
        plain.callbacks,
    )


def test_a_debug_config_still_wins_over_the_recipe(folder):
    config = schema.validate(composed("experiment=caltech101_resnet50", f"data.path={folder}", "debug=fast"))
    assert config.fit.epochs == 1 and config.fit.steps_per_epoch == 1


def test_the_readme_command_takes_a_folder_under_home(folder):
    """``data.path=~/...`` as typed in a shell: Hydra's grammar alone would refuse the ~."""
    process = subprocess.run(
        [
            sys.executable,
            "train.py",
            "experiment=caltech101_resnet50",
            "data.path=~/101_ObjectCategories",
            "--cfg",
            "job",
        ],
        cwd=ROOT,
        env=script_env("sqlite:///unused.db", HOME=str(folder.parent)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr
    assert f"  path: {folder}\n" in process.stdout


def test_the_recipe_without_a_folder_says_data_path_is_required():
    with pytest.raises(schema.ConfigError, match="data.path is required"):
        schema.validate(composed("experiment=caltech101_resnet50"))


@pytest.mark.slow
def test_the_recipe_trains_resnet50_on_an_image_folder(folder, train, client):
    # Small images, batches and eager steps keep ResNet50 to seconds on a CPU.
    run = train(
        "experiment=caltech101_resnet50",
        f"data.path={folder}",
        "data.image_size=[32,32]",
        "data.batch_size=8",
        "fit.steps_per_epoch=2",
        "fit.epochs=1",
        "fit.validation_steps=1",
        "compile.run_eagerly=true",
        "mlflow.log_model=false",
    )
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED"
    params = recorded.data.params
    assert (params["model"], params["optimizer.learning_rate"]) == ("resnet50", "0.0003")
    assert (params["data"], params["data.class_count"]) == ("image_folder", "3")
    assert params["callbacks.early_stopping.monitor"] == "val_accuracy"
    assert "test_accuracy" in recorded.data.metrics
    assert (run.run_dir / "checkpoints" / "best.keras").exists() and (run.run_dir / "model.keras").exists()
