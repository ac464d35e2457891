"""Learning-rate schedules: their values, their saved form, and how they meet reduce_lr."""

import math

import pytest
from hydra import compose, initialize_config_dir

from conftest import ROOT
from ktrain import schema
from ktrain.errors import ConfigError
from test_config import cli, composed, imported_tensorflow

SCHEDULES = ["constant", "cosine", "warmup_cosine", "one_cycle", "exponential", "step", "epoch_exponential"]


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


@pytest.mark.parametrize(
    "builder, options, expected",
    [
        # 10 steps per epoch, 4 epochs: epoch e starts at step 10 * e; the run ends at step 40.
        ("cosine", {}, {0: 1.0, 20: 0.5, 40: 0.0}),
        ("warmup_cosine", {"warmup_epochs": 1}, {0: 0.0, 5: 0.5, 10: 1.0, 25: 0.5, 40: 0.0}),
        # one cycle: 12 steps of rise from 1/25, then cosine to 1e-4 over the other 28
        ("one_cycle", {}, {0: 0.04, 6: 0.52, 12: 1.0, 26: 0.5 + 0.5e-4, 40: 1e-4}),
        ("exponential", {"decay_rate": 0.1}, {0: 1.0, 20: 0.1**0.5, 40: 0.1}),
        ("step", {"drop_epochs": [1, 3], "factor": 0.1}, {0: 1.0, 9: 1.0, 10: 0.1, 29: 0.1, 30: 0.01}),
        (
            "epoch_exponential",
            {"hold_epochs": 2, "decay": 0.1},
            {0: 1.0, 19: 1.0, 20: math.exp(-0.1), 30: math.exp(-0.2), 39: math.exp(-0.2)},
        ),
    ],
)
def test_each_schedule_takes_its_steps_from_the_epochs(keras, builder, options, expected):
    from ktrain import schedules

    schedule = getattr(schedules, builder)(1.0, steps_per_epoch=10, epochs=4, **options)
    for step, rate in expected.items():
        assert float(schedule(step)) == pytest.approx(rate, abs=1e-6), f"{builder} at step {step}"


@pytest.mark.parametrize("builder", SCHEDULES[1:])
def test_an_optimizer_on_a_schedule_saves_as_stock_keras_and_loads_in_safe_mode(keras, builder):
    from ktrain import schedules

    optimizer = keras.optimizers.Adam(getattr(schedules, builder)(1e-3, steps_per_epoch=10, epochs=20))
    config = keras.saving.serialize_keras_object(optimizer)
    assert config["config"]["learning_rate"]["module"] == "keras.optimizers.schedules"
    restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert float(restored.learning_rate) == pytest.approx(float(optimizer.learning_rate))


def test_constant_is_the_plain_rate():
    from ktrain.schedules import constant

    assert constant(3e-4, steps_per_epoch=10, epochs=5) == 3e-4


@pytest.mark.parametrize("option", SCHEDULES)
def test_shipped_schedules_validate(option):
    config = schema.validate(composed(f"schedule={option}"), [f"schedule={option}"])
    assert config.option("schedule") == option


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (
            ["schedule=step", "fit.epochs=12"],
            "schedule.drop_epochs=[10, 15]: the drop at epoch 15 never happens with fit.epochs=12",
        ),
        (["schedule=step", "schedule.drop_epochs=[5,3]"], "drop_epochs [5, 3] must be strictly ascending"),
        (["schedule=warmup_cosine", "fit.epochs=1"], "schedule.warmup_epochs=1 leaves no epoch to decay in"),
        (["schedule=epoch_exponential", "fit.epochs=10"], "schedule.hold_epochs=10 leaves no epoch to decay in"),
        (["schedule=exponential", "schedule.decay_rate=2"], "schedule.decay_rate=2: input should be less than 1"),
        (
            ["schedule=cosine", "+schedule.warmup=3"],
            "schedule.warmup is not a known key (allowed here: _target_, alpha)",
        ),
    ],
)
def test_bad_schedule_settings_are_refused(overrides, expected):
    with pytest.raises(ConfigError) as caught:
        schema.validate(composed(*overrides), overrides)
    assert expected in str(caught.value)


def test_a_schedule_turns_the_default_reduce_lr_off():
    kept = set(schema.validate(composed()).callbacks)
    config = schema.validate(composed("schedule=cosine"), ["schedule=cosine"])
    assert kept - set(config.callbacks) == {"reduce_lr"}
    config = schema.validate(
        composed("callbacks=[default,tensorboard]", "schedule=step"),
        ["callbacks=[default,tensorboard]", "schedule=step"],
    )
    assert {"reduce_lr", "tensorboard"} - set(config.callbacks) == {"reduce_lr"}
    assert "reduce_lr" in kept


@pytest.mark.parametrize(
    "overrides",
    [
        ["schedule=cosine", "callbacks.reduce_lr.patience=3"],
        ["schedule=warmup_cosine", "callbacks=[early_stopping,reduce_lr]"],
        ["schedule=exponential", "+callbacks.plateau._target_=keras.callbacks.ReduceLROnPlateau"],
    ],
)
def test_a_schedule_beside_a_rate_callback_named_on_the_command_line_is_refused_with_the_fix(overrides):
    with pytest.raises(ConfigError) as caught:
        schema.validate(composed(*overrides), overrides)
    schedule = overrides[0].split("=")[1]
    name = "plateau" if "plateau" in overrides[1] else "reduce_lr"
    assert (
        f"schedule={schedule} changes the learning rate at every step, and callbacks.{name} "
        f"(ReduceLROnPlateau), given on the command line, would change it too; keep one of them: "
        f"add ~callbacks.{name}, or use schedule=constant"
    ) in str(caught.value)


def test_dropping_reduce_lr_on_the_command_line_is_fine():
    overrides = ["schedule=cosine", "~callbacks.reduce_lr"]
    config = schema.validate(composed(*overrides), overrides)
    assert "reduce_lr" not in config.callbacks and "early_stopping" in config.callbacks


def test_the_cli_refuses_a_schedule_fighting_reduce_lr_in_one_paragraph_before_tensorflow():
    process = cli("schedule=cosine", "callbacks.reduce_lr.factor=0.2")
    assert process.returncode == 2
    errors = [line for line in process.stderr.splitlines() if not line.startswith("import time:")]
    assert len(errors) == 1 and errors[0].startswith("Error: Invalid config: schedule=cosine changes"), errors
    assert "add ~callbacks.reduce_lr, or use schedule=constant" in errors[0]
    assert not imported_tensorflow(process)


@pytest.mark.parametrize("mode, direction", [("min", "minimize"), ("max", "maximize")])
def test_the_optuna_search_follows_the_monitor_direction(mode, direction):
    with initialize_config_dir(str(ROOT / "ktrain" / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["hparams_search=optuna", f"monitor.mode={mode}"], return_hydra_config=True)
    assert cfg.hydra.sweeper.direction == direction
    assert set(cfg.hydra.sweeper.params) == {"optimizer.learning_rate", "schedule", "data.batch_size"}
    assert cfg.hydra.sweeper.params["optimizer.learning_rate"] == "tag(log, interval(1e-4, 1e-1))"
