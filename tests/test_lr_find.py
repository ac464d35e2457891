"""The LR range test (lr_find=true), optimizer.learning_rate=auto, and one_cycle in a real run."""

import math

import pytest
from mlflow import MlflowClient

from conftest import refuse

SMALL = ["data.batch_size=64", "lr_range_test.steps=100", "mlflow.log_model=false"]


def lr_find_runs(client, experiment_id):
    return client.search_runs([experiment_id], "attributes.run_name LIKE 'lr_find%'")


def test_lr_find_logs_its_curve_and_suggestion_to_a_run_of_its_own_and_trains_nothing(train, client):
    run = train("lr_find=true", *SMALL)
    suggestion = float(run.stdout.split("lr_find: suggested optimizer.learning_rate=")[1].split()[0])
    assert 1e-7 < suggestion < 10
    assert "mlflow: run" not in run.stdout + run.stderr  # no training run
    assert sorted(p.name for p in run.run_dir.iterdir()) == [".hydra", "train.log"]  # nothing else on disk
    experiment = client.get_experiment_by_name("ktrain").experiment_id
    (found,) = [r for r in lr_find_runs(client, experiment) if r.info.run_id in run.stdout]
    assert found.data.metrics["lr_suggested"] == pytest.approx(suggestion, rel=1e-2)
    assert found.data.params["lr_range_test.max_lr"] == "10.0"
    assert int(found.data.params["lr_range_test.steps_run"]) <= 100
    assert [a.path for a in client.list_artifacts(found.info.run_id)] == ["lr_find.png"]


@pytest.mark.slow  # a range test of its own on a new store (about 9 s), kept out of the 10-minute suite
def test_lr_find_records_into_the_store_its_config_names(train, tmp_path):
    # MLFLOW_TRACKING_URI names the session's store; the config another, new one. The experiment
    # was looked up in the first and the run made in the second ("No Experiment with id=1").
    own = f"sqlite:///{tmp_path / 'own.db'}"
    run = train("lr_find=true", *SMALL, f"mlflow.tracking_uri={own}")
    experiment = MlflowClient(own).get_experiment_by_name("ktrain").experiment_id
    (found,) = lr_find_runs(MlflowClient(own), experiment)
    assert found.info.run_id in run.stdout


def test_auto_trains_with_the_suggestion_and_one_cycle_draws_its_curve_in_the_lr_metric(train, client):
    run = train("optimizer.learning_rate=auto", "schedule=one_cycle", "fit.epochs=3", *SMALL)
    suggestion = float(run.stdout.split("lr_find: suggested optimizer.learning_rate=")[1].split()[0])
    trained = client.get_run(run.run_id)
    base = float(trained.data.params["optimizer.learning_rate"])
    assert base == pytest.approx(suggestion, rel=1e-2)

    # 1257 samples / 64: 20 steps per epoch, 60 in all; a linear rise from base / 25 over 18,
    # then cosine annealing over 42 to 1e-4 * base. The lr metric is the rate as each epoch starts.
    def cosine(step):
        return base * ((1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * (step - 18) / 42)) + 1e-4)

    lr = [m.value for m in sorted(client.get_metric_history(run.run_id, "lr"), key=lambda m: m.step)]
    assert lr == pytest.approx([base / 25, cosine(20), cosine(40)], rel=1e-3)


def test_auto_with_a_schedule_that_cannot_take_it_is_refused(tracking_uri, tmp_path):
    paragraph, _ = refuse(
        tracking_uri,
        "optimizer.learning_rate=auto",
        "schedule._target_=keras.optimizers.schedules.PiecewiseConstantDecay",
        "+schedule.boundaries=[10]",
        "+schedule.values=[0.1,0.01]",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert "optimizer.learning_rate=auto trains with the LR range test's suggestion" in paragraph
    assert "allowed: constant, cosine" in paragraph


@pytest.mark.parametrize("seed", range(5))
def test_the_suggestion_lies_where_the_loss_falls_not_in_the_first_steps_noise(seed):
    """A loss that is flat (and noisy) up to 1e-4, falls until 1e-2, then climbs: the steepest
    fall of the smoothed curve lay in the noise of its first steps for seeds 2 and 3 (1e-7)."""
    import numpy as np

    from ktrain.run.lr_find import smooth, suggest

    rates = np.logspace(-7, 1, 200)
    decade = np.log10(rates)
    falls = 2.3 - 1.8 / (1 + np.exp(-3 * (decade + 3)))
    climbs = np.where(decade > -1.3, 5 * (decade + 1.3) ** 2, 0)
    smoothed = smooth(list(falls + climbs + np.random.default_rng(seed).normal(0, 0.08, 200)), 0.98)
    diverged = next(i for i, value in enumerate(smoothed) if value > 4 * min(smoothed[: i + 1]))
    assert 1e-4 < suggest(list(rates[:diverged]), smoothed[:diverged]) < 1e-2
