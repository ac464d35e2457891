"""Composition and validation: bad configs stop before TensorFlow, with one clear paragraph."""

import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from conftest import ROOT, script_env
from ktrain import schema
from ktrain.errors import ConfigError


def composed(*overrides: str):
    """The config a job of ``train.py OVERRIDES`` receives."""
    with initialize_config_dir(str(ROOT / "ktrain" / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(ROOT / "outputs" / "composed")  # set by Hydra's job runner
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def refusal(*overrides: str) -> str:
    with pytest.raises(ConfigError) as caught:
        schema.validate(composed(*overrides))
    return str(caught.value)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "train.py", *args],
        cwd=ROOT,
        env=script_env("sqlite:///unused.db"),
        capture_output=True,
        text=True,
        timeout=60,
    )


def imported_tensorflow(process: subprocess.CompletedProcess) -> bool:
    return any(line.endswith((" tensorflow", " keras")) for line in process.stderr.splitlines())


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        ("model=resnet50", "optimizer=adam"),
        ("model=vgg16", "optimizer=sgd"),
        ("model=mobilenet_v2", "optimizer=rmsprop"),
        ("model=efficientnet_b0", "optimizer=adamw"),
        ("model=mlp", "data=synthetic", "data.input_shape=[20]"),
        ("callbacks=[default,tensorboard]", "~callbacks.reduce_lr", "hardware=gpu"),
        ("debug=fast", "fit.class_weight=balanced"),
    ],
)
def test_shipped_configs_validate(overrides):
    config = schema.validate(composed(*overrides))
    assert config.optimizer["learning_rate"] > 0


def test_one_monitor_setting_feeds_every_callback():
    config = schema.validate(composed("monitor.metric=val_accuracy", "monitor.mode=max"))
    for name in ("early_stopping", "model_checkpoint", "reduce_lr"):
        assert config.callbacks[name]["monitor"] == "val_accuracy"
        assert config.callbacks[name]["mode"] == "max"


def test_a_callback_is_tuned_or_dropped_by_its_name():
    config = schema.validate(composed("callbacks.early_stopping.patience=3", "~callbacks.reduce_lr"))
    assert config.callbacks["early_stopping"]["patience"] == 3
    assert "reduce_lr" not in config.callbacks


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["data.batch_size=zero"], "data.batch_size='zero': input should be a valid integer"),
        (["fit.epochs=-1"], "fit.epochs=-1: input should be greater than or equal to 1"),
        (["optimizer.learning_rate=0"], "optimizer.learning_rate=0: input should be greater than 0"),
        (["+model.nonexistent_key=3"], "model.nonexistent_key is not a known key (allowed here: _target_, filters"),
        (
            ["monitor.metric=val_acc"],
            "monitor.metric='val_acc' is not logged by this run (allowed: loss, accuracy, val_loss, val_accuracy)",
        ),
        (["monitor.mode=biggest"], "monitor.mode='biggest': input should be 'min' or 'max'"),
        (["hardware.visible_devices=[0,-1]"], "hardware.visible_devices holds -1: input should be greater than"),
        (
            ["model=resnet50", "fine_tune=two_phase", "fine_tune.unfreeze=some"],
            "fine_tune.unfreeze='some': input should be 'all', or a valid integer",  # one phrase for a union
        ),
        (["data=npz"], "data.path is required"),
        (["data=npz", "data.path=/no/such.npz"], "data.path='/no/such.npz': no file at '/no/such.npz'"),
        (["data.val_fraction=0.5", "data.test_fraction=0.5"], "leaves no training data"),
        (["fit.initial_epoch=20"], "initial_epoch must be below epochs"),
        (["model=resnet50", "model.architecture=ResNet5"], "model.architecture='ResNet5': input should be 'ResNet50'"),
        (["model=resnet50", "model.weights=imagenet21k"], "model.weights='imagenet21k': no file at 'imagenet21k'"),
        (["fit.class_weight=heavy"], "fit.class_weight='heavy': allowed: null, 'balanced'"),
        (["callbacks.model_checkpoint.filepath=best.h5"], "must end in '.keras'"),
        (
            ["hardware.mixed_precision=float8"],
            "hardware.mixed_precision='float8': input should be 'mixed_float16', 'mixed_bfloat16' or 'auto', or null",
        ),
        (["optimizer.momentum=1.5", "optimizer=sgd"], "optimizer.momentum=1.5: input should be less than 1"),
        (
            ["+optimizer.use_emma=true"],
            "optimizer.use_emma is not a keyword argument of keras.optimizers.Adam (did you mean use_ema?)",
        ),
        (
            ["+callbacks.early_stopping.patiense=3"],
            "callbacks.early_stopping.patiense is not a keyword argument of keras.callbacks.EarlyStopping "
            "(did you mean patience?)",
        ),
        (
            ["+compile.metrics=[{_target_: keras.metrics.SparseTopKCategoricalAccuracy, kk: 3}]"],
            "compile.metrics.0.kk is not a keyword argument of keras.metrics.SparseTopKCategoricalAccuracy "
            "(did you mean k?)",
        ),
        (
            ["+fit.callbacks=[]"],
            "fit.callbacks cannot be set: ktrain gives keras.Model.fit its callbacks itself, from callbacks.*",
        ),
        (
            ["+fit.batch_size=8"],
            "fit.batch_size cannot be set: ktrain gives keras.Model.fit its batch_size itself, from data.batch_size",
        ),
        (
            ["+compile.optimizer=sgd"],
            "compile.optimizer cannot be set: ktrain gives keras.Model.compile its optimizer itself, "
            "from the optimizer group",
        ),
        (
            ["+optimizer.use_ema=true", "optimizer.learning_rate=0"],
            "optimizer.learning_rate=0: input should be greater than 0",
        ),
    ],
)
def test_bad_values_are_refused_naming_key_value_and_what_is_allowed(overrides, expected):
    message = refusal(*overrides)
    assert message.startswith("Invalid config: ")
    assert expected in message


@pytest.mark.parametrize("model", ["mlp", "text_cnn"])
def test_a_model_of_one_input_on_a_table_is_refused_naming_tabular(model, tmp_path):
    (tmp_path / "t.csv").write_text("age,plan,y\n34,basic,0\n51,pro,1\n")
    message = refusal("data=table", f"data.path={tmp_path / 't.csv'}", "data.target=y", f"model={model}")
    assert f"model={model} takes a single input, not one per column; use model=tabular" in message


def test_every_problem_is_reported_at_once():
    message = refusal("fit.epochs=0", "data.batch_size=-2")
    assert "fit.epochs=0" in message and "data.batch_size=-2" in message
    assert "\n" not in message


def test_every_keyword_of_the_keras_class_or_method_is_taken_where_ktrain_does_not_type_it():
    config = schema.validate(
        composed(
            "+optimizer.use_ema=true",
            "+fit.validation_batch_size=64",
            "+compile.weighted_metrics=[accuracy]",
            "+callbacks.nan._target_=keras.callbacks.TerminateOnNaN",
            "+callbacks.nan.raise_error=true",
            "optimizer=sgd",
            "+optimizer.gradient_accumulation_steps=2",
        )
    )
    assert config.optimizer["use_ema"] is True and config.optimizer["gradient_accumulation_steps"] == 2
    assert config.values()["fit"]["validation_batch_size"] == 64
    assert config.values()["compile"]["weighted_metrics"] == ["accuracy"]
    assert config.callbacks["nan"]["raise_error"] is True


def test_a_weighted_metric_can_be_monitored_under_the_name_keras_logs_it_by():
    schema.validate(composed("+compile.weighted_metrics=[accuracy]", "monitor.metric=val_weighted_accuracy"))


def test_a_target_ktrain_does_not_know_takes_any_keyword():
    config = schema.validate(composed("+callbacks.nan._target_=keras.callbacks.TerminateOnNaN"))
    assert config.callbacks["nan"] == {"_target_": "keras.callbacks.TerminateOnNaN"}


@pytest.mark.parametrize(
    "override, expected",
    [
        (
            "model.nonexistent_key=3",
            "model.nonexistent_key=3 names an unknown key 'model.nonexistent_key'; model takes: _target_, filters, dense_units, dropout, preprocessing.",  # noqa: E501
        ),
        ("optimizer=adamm", "optimizer=adamm is not an option of optimizer (allowed: adam, adamw, rmsprop, sgd)."),
        ("data.batch_size=zero", "data.batch_size='zero': input should be a valid integer"),
        ("fit.epochs=-1", "fit.epochs=-1: input should be greater than or equal to 1"),
        ("optimizer.learning_rate=0", "optimizer.learning_rate=0: input should be greater than 0"),
        (
            "callbacks.early_stopping.start_from_epoch=2",
            "add it with a leading +: +callbacks.early_stopping.start_from_epoch=2",
        ),
        ("fit.epoch=3", "fit.epoch=3 names an unknown key 'fit.epoch' (did you mean epochs?); fit takes: epochs,"),
        ("optimizer.use_ema=true", "which optimizer allows but this config does not set yet; add it with a leading +"),
        (
            "+optimizer.use_emma=true",
            "optimizer.use_emma is not a keyword argument of keras.optimizers.Adam (did you mean use_ema?)",
        ),
        ("fit.callbacks=[]", "fit.callbacks cannot be set: ktrain gives keras.Model.fit its callbacks itself"),
    ],
)
def test_the_cli_refuses_in_one_paragraph_without_traceback_or_tensorflow(override, expected):
    process = cli(override)
    assert process.returncode == 2
    errors = [line for line in process.stderr.splitlines() if not line.startswith("import time:")]
    assert len(errors) == 1 and errors[0].startswith("Error: Invalid config: "), errors
    assert expected in errors[0]
    assert not imported_tensorflow(process)


@pytest.mark.parametrize("args", [["--help"], ["--cfg", "job"], ["model=resnet50", "--cfg", "job"]])
def test_help_and_cfg_never_import_tensorflow(args):
    process = cli(*args)
    assert process.returncode == 0, process.stderr[-2000:]
    assert "model" in process.stdout
    assert not imported_tensorflow(process)


def test_help_lists_every_group_and_the_config_as_composed_with_the_overrides():
    text = cli("model=resnet50", "optimizer=sgd", "--help").stdout
    models = (
        "backbone, efficientnet_b0, keras_hub, mlp, mobilenet_v2, resnet50, saved, simple_cnn, tabular, text_cnn, "
        "unet, vgg16"
    )
    assert f"model: {models}\n" in text
    assert "schedule: constant, cosine, epoch_exponential, exponential, one_cycle, step, warmup_cosine\n" in text
    assert "hydra/" not in text and "--hydra-help" in text
    assert "_target_: ktrain.models.backbone.backbone" in text and "_target_: keras.optimizers.SGD" in text
    assert text.startswith("python train.py [group=option ...] [key=value ...]")


def test_the_readme_error_examples_are_what_the_cli_prints():
    import re

    readme = (ROOT / "README.md").read_text()
    examples = re.findall(r"^\$ python train.py (.+)\n(Error: .+)$", readme, flags=re.MULTILINE)
    assert len(examples) >= 3
    for args, printed in examples:
        process = cli(*args.split())
        assert process.stderr.splitlines()[-1] == printed, args


def test_loss_and_metrics_are_auto_by_default_or_per_output_mappings_as_keras_takes_them():
    config = schema.validate(composed())
    assert (config.compile.loss, config.compile.metrics) == ("auto", "auto")
    config = schema.validate(
        composed("compile.loss={digit: sparse_categorical_crossentropy, ink: huber}", "compile.metrics={ink: [mae]}")
    )
    assert config.compile.metrics == {"ink": ["mae"]}
