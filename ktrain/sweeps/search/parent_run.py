"""An Optuna search's results on its sweep's parent run: the best trial's params and value,
the counts of trials by state, and Optuna's plots (written by ``results.py``).

Called from the sweep callback's end-of-sweep step, which holds the parent run; it reads the
sweep dir only, so neither side imports the other's library (Optuna, MLflow).
"""

from pathlib import Path

import yaml
from mlflow import MlflowClient

from ktrain.names import OPTUNA_STORAGE_TAG, OPTUNA_STUDY_TAG, SEARCH_RESULTS


def log_search_results(client: MlflowClient, parent_run_id: str, sweep_dir: Path) -> None:
    """Log the results of the search in ``sweep_dir`` on the parent run, if it was one."""
    path = Path(sweep_dir) / SEARCH_RESULTS
    results = yaml.safe_load(path.read_text()) if path.is_file() else None
    if not isinstance(results, dict) or "trials" not in results:
        return  # not ktrain's Optuna sweeper
    for state, count in results["trials"].items():
        client.log_metric(parent_run_id, f"trials_{state}", count)
    client.set_tag(parent_run_id, OPTUNA_STUDY_TAG, results["study_name"])
    client.set_tag(parent_run_id, OPTUNA_STORAGE_TAG, results["storage"])
    if "best_value" in results:
        client.log_metric(parent_run_id, "best_trial_value", results["best_value"])
        client.log_param(parent_run_id, "best_trial", results["best_trial"])
        for key, value in results["best_params"].items():
            client.log_param(parent_run_id, f"best.{key}", value)
    for plot in sorted(Path(sweep_dir).glob("optuna_*.png")):
        client.log_artifact(parent_run_id, str(plot))
