"""Execution settings chosen by measurement (hardware.autotune): what the probe chose and why,
in the log and in MLflow; values the config sets kept; Keras' defaults when it is off; a
resumed run training with what it chose; steps per execution leaving schedules and batch hooks
as Keras documents them."""

import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import refuse, run_train
from ktrain.run.autotune import LOSS_TOLERANCE, MIN_GAIN, _judged, _steps_per_execution
from ktrain.run.probe import Trial
from test_resume import resume_to_the_end


def bf16_cpu() -> bool:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return any(flag in text.split() for flag in ("avx512_bf16", "amx_bf16"))


@pytest.fixture(scope="module")
def tuned(tracking_uri, tmp_path_factory):
    """Digits for 4 epochs, a cosine schedule: every execution setting left to the probe."""
    return run_train(tracking_uri, tmp_path_factory.mktemp("tuned"), "fit.epochs=4", "schedule=cosine")


def params(client, run) -> dict[str, str]:
    return client.get_run(run.run_id).data.params


def test_the_probe_records_what_it_chose_and_why(tuned, client):
    chosen = params(client, tuned)
    # The digits CNN's 2 ms steps carry a dispatch of about a millisecond: many steps to an execution.
    assert int(chosen["autotune.steps_per_execution"]) > 1
    assert chosen["autotune.mixed_precision"] in ("float32", "mixed_bfloat16")
    assert "ms a step" in chosen["autotune.reason"] and "steps per execution" in chosen["autotune.reason"]
    if bf16_cpu():  # tried, or said why not
        assert "mixed_bfloat16" in chosen["autotune.reason"]
    assert "autotune: chose" in tuned.stdout + tuned.stderr
    assert chosen["compile.steps_per_execution"] == "auto"  # the config as given; the choice beside it


def test_the_schedule_counts_the_probes_steps_and_every_step_of_an_execution(tuned, client):
    # The probe's steps are real training steps: the optimizer starts the first epoch that many
    # steps along, and each epoch's rate is the schedule's at its first step, however many steps
    # an execution runs.
    chosen = params(client, tuned)
    offset = int(chosen["autotune.probe_steps"])
    assert offset > 0
    history = json.loads((tuned.run_dir / "history.json").read_text())
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=40 * 4)
    for epoch, rate in zip(history["epoch"], history["lr"]):
        assert rate == pytest.approx(float(schedule(offset + 40 * epoch)), rel=1e-5)


def test_values_the_config_sets_are_kept(train, client):
    run = train("fit.epochs=4", "compile.steps_per_execution=4", "hardware.mixed_precision=null")
    chosen = params(client, run)
    assert chosen["autotune.steps_per_execution"] == "4"
    assert chosen["autotune.mixed_precision"] == "float32"
    assert "set by the config" in chosen["autotune.reason"]
    assert "mixed_bfloat16" not in chosen["autotune.reason"]  # not a candidate: the config chose float32
    assert keras.saving.load_model(run.run_dir / "model.keras").steps_per_execution == 4


def test_autotune_false_trains_with_keras_defaults(train, client):
    run = train("fit.epochs=4", "hardware.autotune=false")
    chosen = params(client, run)
    assert (chosen["autotune.steps_per_execution"], chosen["autotune.mixed_precision"]) == ("1", "float32")
    assert chosen["autotune.reason"] == "hardware.autotune=false" and chosen["autotune.probe_steps"] == "0"
    assert "autotune: Keras' defaults for the auto settings: hardware.autotune=false" in run.stdout + run.stderr


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_tensorflows_mirrored_strategy_trains_one_step_per_call(train, client):
    # Its fit of several steps per call fails (a placeholder of the loop left unfed).
    run = train("fit.epochs=2", "hardware.strategy=mirrored", "hardware.cpu_devices=2")
    chosen = params(client, run)
    assert client.get_run(run.run_id).info.status == "FINISHED"
    assert chosen["autotune.steps_per_execution"] == "1"
    assert "MirroredStrategy fails on a loop of several steps per call" in chosen["autotune.reason"]


@pytest.mark.slow  # kept out of the 10-minute suite; .ci/run runs it after
def test_a_resumed_run_trains_with_the_settings_it_chose(train, tracking_uri, client):
    first = train("fit.epochs=3")
    spe = params(client, first)["autotune.steps_per_execution"]
    resumed = resume_to_the_end(tracking_uri, first.run_dir, "fit.epochs=4")
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, out[-3000:]
    assert f"autotune: as when the run started: {spe} step" in out
    assert "ms a step" not in out  # nothing measured again


def trial(step_ms: float, loss: float, execution_ms: float = 0.5, precision: str = "float32") -> Trial:
    """A measured trial: its first execution (build, trace, 8 steps) took 2 s more than its steps."""
    first_s = 2.0 + 8 * step_ms / 1000
    return Trial(
        precision, "auto", 40, step_s=step_ms / 1000, execution_s=execution_ms / 1000, loss=loss, first_s=first_s
    )


def test_a_precision_that_worsens_the_loss_beyond_the_tolerance_is_dropped_and_said_so():
    reference = trial(10.0, 2.0)
    worse = trial(2.0, 2.0 * (1 + 2 * LOSS_TOLERANCE), precision="mixed_bfloat16")
    best, note = _judged(worse, reference, reference)
    assert best is reference and "dropped" in note and f"{LOSS_TOLERANCE:.0%} tolerance" in note
    fine = trial(2.0, 2.0 * (1 + LOSS_TOLERANCE / 2), precision="mixed_bfloat16")
    best, note = _judged(fine, reference, reference)
    assert best is fine and note.endswith("faster")


def test_a_candidate_must_be_faster_by_the_margin_to_replace_the_reference():
    reference = trial(10.0, 2.0)
    barely = trial(10.0 * (1 - MIN_GAIN / 2), 2.0, precision="mixed_bfloat16")
    best, note = _judged(barely, reference, reference)
    assert best is reference and "not faster" in note


def test_steps_per_execution_follow_the_measured_step_and_overhead():
    # Light steps: as many as traced (an epoch's). Heavy steps: one, if tracing again fits the budget.
    assert _steps_per_execution(trial(2.0, 1.0, execution_ms=1.0), 40, budget_left=0.0)[0] == 40
    assert _steps_per_execution(trial(500.0, 1.0), 40, budget_left=10.0)[0] == 1
    kept, why = _steps_per_execution(trial(500.0, 1.0), 40, budget_left=0.0)
    assert kept == 40 and "over the" in why


def test_what_a_batch_hook_sees_under_several_steps_per_execution():
    # As the README says: one call per execution, its index the execution's last step, the
    # logs of that step; the schedule applied at every step inside.
    x = np.random.default_rng(0).normal(size=(96, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int64")
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=24)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(schedule), "sparse_categorical_crossentropy", steps_per_execution=4)

    class Hooks(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append((batch, int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))))

    hooks = Hooks()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=[hooks])
    assert hooks.seen == [(3, 4), (7, 8), (11, 12), (3, 16), (7, 20), (11, 24)]
    rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    assert math.isclose(rate, float(schedule(24)), abs_tol=1e-9)


def test_several_steps_per_execution_on_torch_are_refused_before_the_backend_loads(tracking_uri):
    # Keras' torch backend runs one step per call; its fit would raise at the first batch.
    paragraph, _ = refuse(tracking_uri, "compile.steps_per_execution=4", KERAS_BACKEND="torch")
    assert "compile.steps_per_execution=4 is not available on the torch backend" in paragraph
    assert "Leave it at auto" in paragraph
