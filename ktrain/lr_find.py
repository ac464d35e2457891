"""Smith's learning-rate range test (Smith 2017, "Cyclical Learning Rates", section 3.3):
``python train.py lr_find=true`` runs it on the composed config instead of training, and
``optimizer.learning_rate=auto`` runs it first and trains with its suggestion.

The rate grows exponentially from ``lr_range_test.min_lr`` to ``max_lr`` over ``steps``
batches of the training split, one ``train_on_batch`` each (its own batch's loss, where the
epoch logs hold a running mean); the loss is smoothed (an exponential average, bias-corrected)
and the test stops once it exceeds ``diverge`` times its lowest. The suggestion is the rate
where the smoothed loss falls fastest, before its minimum. The model's weights are restored
afterwards, and a run with ``auto`` re-seeds before it builds its own model, so that it trains
from the initial state it would have had. The curve (``lr_find.png``) and the metric
``lr_suggested`` go to an MLflow run of the test's own; nothing else is written to disk.
"""

import logging
import math
import tempfile
from pathlib import Path

import keras
import numpy as np

from ktrain import fitting, hardware
from ktrain.build import build, compiled_model
from ktrain.schema import TrainConfig

log = logging.getLogger(__name__)
PLOT = "lr_find.png"


def find(config: TrainConfig, strategy) -> float:
    """Run the range test on ``config``'s data and model, record it, return the suggestion."""
    settings = config.lr_range_test
    data = build(config.data, "data")
    steps = fitting.steps_per_epoch(config.fit, data.spec, data.batch_size)
    trial = config.model_copy(deep=True)
    trial.optimizer["learning_rate"] = settings.min_lr
    trial.schedule = {"_target_": "ktrain.schedules.constant"}  # the test sets the rate itself
    with strategy.scope():
        model = compiled_model(trial, data.spec, steps)
    split = hardware.split_across_replicas(data, strategy)["train"]
    initial = model.get_weights()
    rates, losses = range_test(model, _batches(split, data.batch_size, config.seed), settings)
    model.set_weights(initial)
    smoothed = smooth(losses, settings.smoothing)
    suggestion = suggest(rates, smoothed)
    log.info(
        "lr_find: %d steps from %.3g to %.3g; suggested learning rate %.3g", len(rates), rates[0], rates[-1], suggestion
    )
    print(f"lr_find: suggested optimizer.learning_rate={suggestion:.3g}", flush=True)
    _record(config, rates, losses, smoothed, suggestion)
    return suggestion


def use_suggestion(config: TrainConfig, strategy) -> None:
    """``optimizer.learning_rate=auto``: the range test's suggestion becomes the base rate."""
    config.optimizer["learning_rate"] = find(config, strategy)
    keras.utils.set_random_seed(config.seed)  # the run's model starts where the test's did


def range_test(model: keras.Model, batches, settings) -> tuple[list[float], list[float]]:
    """Train one batch per rate, growing exponentially; stop at divergence. The rates and the
    batch losses."""
    growth = (settings.max_lr / settings.min_lr) ** (1 / max(1, settings.steps - 1))
    rates, losses, best = [], [], math.inf
    for step in range(settings.steps):
        rate = settings.min_lr * growth**step
        model.optimizer.learning_rate = rate
        x, y = next(batches)
        loss = float(model.train_on_batch(x, y, return_dict=True)["loss"])
        rates.append(rate)
        losses.append(loss)
        smoothed = smooth(losses, settings.smoothing)[-1]
        if not math.isfinite(smoothed) or smoothed > settings.diverge * best:
            break
        best = min(best, smoothed)
    return rates, losses


def smooth(losses: list[float], beta: float) -> list[float]:
    """The exponential moving average of ``losses``, bias-corrected (fastai's, Smith's)."""
    average, out = 0.0, []
    for step, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta**step))
    return out


def suggest(rates: list[float], smoothed: list[float]) -> float:
    """The rate of the steepest fall of the smoothed loss against log(rate), before its
    minimum; a tenth of the minimum's rate where the curve is too short to tell."""
    lowest = int(np.nanargmin(smoothed))
    if lowest < 3:
        return rates[lowest] / 10
    slopes = np.gradient(np.asarray(smoothed[: lowest + 1]), np.log(rates[: lowest + 1]))
    return float(rates[int(np.argmin(slopes))])


def _batches(split, batch_size: int, seed: int):
    """Training batches without end: shuffled arrays, or a batched dataset repeated."""
    if split.y is None:
        while True:
            yield from split.x
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(split.y))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            index = order[start : start + batch_size]
            yield split.x[index], split.y[index]


def _record(config: TrainConfig, rates, losses, smoothed, suggestion: float) -> None:
    """An MLflow run of the test's own: its settings, ``lr_suggested`` and ``lr_find.png``."""
    from mlflow import MlflowClient

    from ktrain.tracking.run import ensure_experiment

    client = MlflowClient(config.mlflow.tracking_uri)
    experiment_id = ensure_experiment(config.mlflow.tracking_uri, config.mlflow.experiment_name)
    run = client.create_run(experiment_id, run_name=f"lr_find {config.option('model')} {config.option('data')}")
    run_id = run.info.run_id
    for key, value in {**config.lr_range_test.model_dump(), "steps_run": len(rates)}.items():
        client.log_param(run_id, f"lr_range_test.{key}", value)
    client.log_param(run_id, "model", config.option("model"))
    client.log_param(run_id, "optimizer", config.option("optimizer"))
    client.log_metric(run_id, "lr_suggested", suggestion)
    with tempfile.TemporaryDirectory(prefix="ktrain-lr-find-") as folder:
        path = Path(folder) / PLOT
        _plot(rates, losses, smoothed, suggestion, path)
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED")
    log.info("lr_find: MLflow run %s", run_id)


def _plot(rates, losses, smoothed, suggestion: float, path: Path) -> None:
    from matplotlib.figure import Figure  # not pyplot: no GUI backend

    figure = Figure(figsize=(8, 5))
    axes = figure.subplots()
    axes.plot(rates, losses, alpha=0.3, label="batch loss")
    axes.plot(rates, smoothed, label="smoothed")
    axes.axvline(suggestion, color="red", linestyle="--", label=f"suggested {suggestion:.3g}")
    top = min(max(smoothed), 4 * min(smoothed)) if smoothed else 1
    axes.set(xscale="log", xlabel="learning rate", ylabel="loss", title="LR range test", ylim=(None, top))
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
