"""ktrain's Optuna sweeper: a study that persists and continues, trials pruned per epoch, the
search's results on the sweep's parent run."""

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from conftest import run_sweep
from test_sweeps import sweep_runs

# Three trials, one per learning rate (the grid sampler takes each once). A ThresholdPruner
# prunes a trial whose val_loss is above 2.2 after an epoch: 1e-6 leaves the untrained 2.30 as
# it is, 1e-2 and 3e-3 are below 1.5 after one epoch (measured: 0.9 and 1.3).
SEARCH = [
    "hparams_search=optuna",
    "fit.epochs=3",
    "schedule=constant",
    "optimizer.learning_rate=choice(1e-2,3e-3,1e-6)",
    "hydra/sweeper/sampler=grid",
    "hydra/sweeper/pruner=threshold",
    "hydra.sweeper.pruner.upper=2.2",
    "hydra.sweeper.n_trials=3",
]


def load(storage, search):
    results = yaml.safe_load((search.sweep_dir / "optimization_results.yaml").read_text())
    return optuna.load_study(
        study_name=results["study_name"],
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(storage))),
    )


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    return tmp_path_factory.mktemp("study") / "optuna.journal"


@pytest.fixture(scope="module")
def search(tracking_uri, tmp_path_factory, storage):
    return run_sweep(
        tracking_uri, tmp_path_factory.mktemp("search") / "sweep", *SEARCH, f"hydra.sweeper.storage={storage}"
    )


def test_a_search_on_current_optuna_completes_and_its_study_file_persists(search, storage):
    assert search.returncode == 0, search.output[-4000:]
    assert int(optuna.__version__.split(".")[0]) >= 4
    assert storage.is_file()
    study = load(storage, search)
    assert len(study.trials) == 3
    assert sorted(t.params["optimizer.learning_rate"] for t in study.trials) == [1e-6, 3e-3, 1e-2]


def test_a_pruned_trial_is_pruned_in_optuna_and_tagged_in_its_child_run(search, storage, client):
    study = load(storage, search)
    by_rate = {t.params["optimizer.learning_rate"]: t for t in study.trials}
    assert by_rate[1e-6].state == TrialState.PRUNED
    assert by_rate[1e-6].user_attrs["ktrain.pruned_at_epoch"] == 1
    assert {by_rate[1e-2].state, by_rate[3e-3].state} == {TrialState.COMPLETE}
    assert len(by_rate[1e-2].intermediate_values) == 3  # one report per epoch

    _, children = sweep_runs(client, search.parent_run_id)
    pruned = [c for c in children if "ktrain.pruned_at_epoch" in c.data.tags]
    assert [c.data.params["optimizer.learning_rate"] for c in pruned] == ["1e-06"]
    assert pruned[0].data.tags["ktrain.pruned_at_epoch"] == "1"
    assert pruned[0].info.status == "FINISHED"
    assert len(client.get_metric_history(pruned[0].info.run_id, "loss")) == 1  # it stopped after one epoch
    assert all(
        c.info.run_name == f"optimizer.learning_rate={c.data.params['optimizer.learning_rate']}" for c in children
    )


def test_the_parent_run_holds_the_best_trial_the_counts_and_the_plots(search, storage, client):
    parent, _ = sweep_runs(client, search.parent_run_id)
    best = load(storage, search).best_trial
    assert parent.data.metrics["best_trial_value"] == pytest.approx(best.value)
    assert float(parent.data.params["best.optimizer.learning_rate"]) == best.params["optimizer.learning_rate"]
    assert parent.data.params["best_trial"] == str(best.number)
    metrics = parent.data.metrics
    assert (metrics["trials_complete"], metrics["trials_pruned"], metrics["trials_failed"]) == (2, 1, 0)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    plots = {"optuna_history.png", "optuna_importances.png", "optuna_intermediate_values.png"}
    assert plots <= artifacts
    for plot in plots:
        assert (search.sweep_dir / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ExperimentalWarning" not in search.output  # Optuna's, one for each plot
    assert "A new study created" not in search.output and "optuna: study " in search.output  # ours, not Optuna's
    # the pruned trial is not the sweep's best job either
    assert parent.data.tags["ktrain.best_overrides"] != "optimizer.learning_rate=1e-06"


def test_the_same_command_continues_the_study_and_asks_an_interrupted_trial_again(
    search, storage, tracking_uri, tmp_path
):
    study = load(storage, search)
    first = [(t.number, t.state, t.params) for t in study.trials]
    # A trial left RUNNING, as by a sweep that died with it.
    study.enqueue_trial({"optimizer.learning_rate": 3e-3})
    interrupted = study.ask(
        {"optimizer.learning_rate": optuna.distributions.CategoricalDistribution([1e-2, 3e-3, 1e-6])}
    )
    again = run_sweep(
        tracking_uri, tmp_path / "sweep", *SEARCH[:-1], "hydra.sweeper.n_trials=1", f"hydra.sweeper.storage={storage}"
    )
    assert again.returncode == 0, again.output[-4000:]
    assert "continuing study" in again.output and "3 earlier trials kept" in again.output
    trials = load(storage, search).trials
    assert [(t.number, t.state, t.params) for t in trials[:3]] == first
    assert trials[interrupted.number].state == TrialState.FAIL
    assert len(trials) == 5 and trials[4].params == {"optimizer.learning_rate": 3e-3}
    assert trials[4].state == TrialState.COMPLETE
