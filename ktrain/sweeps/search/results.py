"""A search's results in its sweep dir, for the sweep callback to log on the parent run:
``optimization_results.yaml`` (the best trial, the counts of trials by state) and Optuna's plots.

The sweeper writes them, since it holds the study; the sweep callback's end-of-sweep step
(``parent_run.py``) logs them, since it holds the parent run.
"""

import logging
import warnings
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from ktrain.names import SEARCH_RESULTS

log = logging.getLogger(__name__)
PLOTS = {
    "optuna_history.png": "plot_optimization_history",
    "optuna_importances.png": "plot_param_importances",
    "optuna_intermediate_values.png": "plot_intermediate_values",
}


def write(study: optuna.Study, sweep_dir: Path, storage: str, monitor: str) -> list[Path]:
    """The results file and the plots in ``sweep_dir``; their paths."""
    trials = study.get_trials(deepcopy=False)
    states = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}
    counts = {name: sum(t.state == state for t in trials) for name, state in states.items()}
    summary = {
        "name": "optuna",
        "study_name": study.study_name,
        "storage": storage,
        "direction": study.direction.name.lower(),
        "monitor": monitor,
        "trials": counts,
    }
    if counts["complete"]:
        best = study.best_trial
        summary.update(best_trial=best.number, best_value=best.value, best_params=best.params)
        log.info("optuna: best trial %d: %s=%.4g with %s", best.number, monitor, best.value, best.params)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / SEARCH_RESULTS
    path.write_text(yaml.safe_dump(summary, sort_keys=False))
    log.info("optuna: %s; dashboard: optuna-dashboard %s", ", ".join(f"{n} {k}" for k, n in counts.items()), storage)
    return [path, *plots(study, sweep_dir, counts["complete"])]


def plots(study: optuna.Study, sweep_dir: Path, complete: int) -> list[Path]:
    """Optuna's matplotlib plots of the study; importances need two complete trials."""
    import matplotlib

    matplotlib.use("Agg")  # Optuna's plots draw through pyplot: no GUI backend
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    written = []
    for name, function in PLOTS.items():
        if name == "optuna_importances.png" and complete < 2:
            log.info("optuna: no parameter importances: %d complete trial(s), and they need 2", complete)
            continue
        if not study.get_trials(deepcopy=False):
            continue
        with warnings.catch_warnings():  # each of Optuna's matplotlib plots says it is experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            axes = getattr(optuna_plots, function)(study)
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        figure.set_size_inches(9, 5)
        figure.tight_layout()
        figure.savefig(sweep_dir / name, dpi=100)
        plt.close(figure)
        written.append(sweep_dir / name)
    return written
