"""Pruning, measured: the same Optuna search with and without a pruner, in one run.

12 trials x 8 epochs on digits over ``optimizer.learning_rate`` (log-uniform 1e-5..1e-1) and
the schedule, TPE seeded alike; batch 64, early stopping off so that only the pruner cuts a
trial short. Each search is ``python train.py -m hparams_search=optuna ...`` into its own
MLflow store and study; the epochs each trial trained are read back from its study.

    python benchmarks/search.py [--trials 12] [--epochs 8] [--json benchmarks/results/search.json]

Targets: epochs trained with pruning / without <= 0.6; the best val_loss with pruning within
10 % of the best without.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

ROOT = Path(__file__).resolve().parents[1]
PRUNERS = {
    "none": ["hydra.sweeper.pruner=null"],
    "median (shipped)": [],
    "successive_halving": ["hydra/sweeper/pruner=successive_halving", "hydra.sweeper.pruner.min_resource=1"],
}


def search(name: str, extra: list[str], trials: int, epochs: int, folder: Path) -> dict:
    """Run one search; its epochs trained, best value and wall time."""
    storage = folder / "optuna.journal"
    command = [
        sys.executable,
        "train.py",
        "-m",
        "hparams_search=optuna",
        f"hydra.sweeper.n_trials={trials}",
        "hydra.sweeper.study_name=bench",
        f"hydra.sweeper.storage={storage}",
        "optimizer.learning_rate=tag(log, interval(1e-5, 1e-1))",
        "data.batch_size=64",
        f"fit.epochs={epochs}",
        "fit.verbose=0",
        "~callbacks.early_stopping",
        "mlflow.log_model=false",
        f"hydra.sweep.dir={folder / 'sweep'}",
        *extra,
    ]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}", "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    # Exit 1: some trial failed (a rate near 1e-1 may make the loss NaN), which the study records.
    process = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{name}: train.py exited {process.returncode}:\n{process.stderr[-3000:]}")
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name="bench", storage=JournalStorage(JournalFileBackend(str(storage))))
    states = [t.state.name for t in study.trials]
    return {
        "pruner": name,
        "epochs_trained": sum(len(t.intermediate_values) for t in study.trials),
        "best_val_loss": study.best_value,
        "best_params": study.best_params,
        "pruned": states.count("PRUNED"),
        "complete": states.count("COMPLETE"),
        "failed": states.count("FAIL"),
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="ktrain-bench-search-") as tmp:
        for i, (name, extra) in enumerate(PRUNERS.items()):
            results.append(search(name, extra, args.trials, args.epochs, Path(tmp) / str(i)))
            print(json.dumps(results[-1]), flush=True)
    base = results[0]
    for result in results[1:]:
        ratio = result["epochs_trained"] / base["epochs_trained"]
        gap = (result["best_val_loss"] - base["best_val_loss"]) / base["best_val_loss"]
        result.update(epochs_ratio=round(ratio, 3), best_gap=round(gap, 3))
        print(
            f"{result['pruner']}: epochs {result['epochs_trained']} / {base['epochs_trained']} = {ratio:.2f} "
            f"(target <= 0.6); best val_loss {result['best_val_loss']:.4f} vs {base['best_val_loss']:.4f} "
            f"unpruned ({gap:+.1%}; target within 10%); {result['pruned']} of {args.trials} trials pruned; "
            f"{result['wall_s']} s vs {base['wall_s']} s"
        )
    if args.json:
        args.json.write_text(json.dumps({"trials": args.trials, "epochs": args.epochs, "results": results}, indent=2))


if __name__ == "__main__":
    main()
