"""Smith's learning-rate range test (Smith 2017, "Cyclical Learning Rates", section 3.3):
``python train.py lr_find=true`` runs it on the composed config instead of training, and
``optimizer.learning_rate=auto`` runs it first and trains with its suggestion.

The rate grows exponentially from ``lr_range_test.min_lr`` to ``max_lr`` over ``steps``
batches of the training split, one ``train_on_batch`` each (its own batch's loss, where the
epoch logs hold a running mean); the loss is smoothed (an exponential average, bias-corrected)
and the test stops once it exceeds ``diverge`` times its lowest. The suggestion is the rate
where the smoothed loss falls fastest, before its minimum. The model's weights are restored
afterwards, and a run with ``auto`` re-seeds before it builds its own model, so that it trains
from the initial state it would have had. The data and the model come from the same steps as
a training run's (``ktrain.run.steps``). The curve (``lr_find.png``) and the metric
``lr_suggested`` go to an MLflow run of the test's own; nothing else is written to disk.
"""

import functools
import logging
import math
import tempfile
from pathlib import Path

import keras
import numpy as np

from ktrain.contracts import Strategy
from ktrain.data import array_length, map_arrays
from ktrain.run.steps import build_model, load_data
from ktrain.schema import TrainConfig, derive
from ktrain.tracking.run import record_side_run

log = logging.getLogger(__name__)
PLOT = "lr_find.png"


def find(config: TrainConfig, strategy: Strategy) -> float:
    """Run the range test on ``config``'s data and model, record it, return the suggestion."""
    settings = config.lr_range_test
    data = load_data(config, strategy)
    model = build_model(derive.for_range_test(config), data, strategy)
    initial = model.get_weights()
    batches = _batches(data.splits["train"], data.module.batch_size, config.seed)
    rates, losses = range_test(model, batches, settings)
    model.set_weights(initial)
    smoothed = smooth(losses, settings.smoothing)
    suggestion = suggest(rates, smoothed)
    log.info(
        "lr_find: %d steps from %.3g to %.3g; suggested learning rate %.3g", len(rates), rates[0], rates[-1], suggestion
    )
    print(f"lr_find: suggested optimizer.learning_rate={suggestion:.3g}", flush=True)
    _record(config, rates, losses, smoothed, suggestion)
    return suggestion


def with_suggestion(config: TrainConfig, strategy: Strategy) -> TrainConfig:
    """``optimizer.learning_rate=auto``: ``config`` with the range test's suggestion as its base rate."""
    suggested = derive.learning_rate(config, find(config, strategy))
    keras.utils.set_random_seed(config.seed)  # the run's model starts where the test's did
    return suggested


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
    """The rate halfway along the longest stretch over which the smoothed loss keeps falling
    (fastai's "valley": the longest decreasing subsequence), or a tenth of the minimum's rate
    where the curve is too short to tell. The rate of the steepest fall, suggested before,
    fell on the first steps' noise (the bias-corrected average has little history there) and
    suggested 1e-7 for curves that fall between 1e-4 and 1e-2."""
    lowest = int(np.nanargmin(smoothed))
    if lowest < 3:
        return rates[lowest] / 10
    longest, end = [1] * len(smoothed), 0  # longest[i]: of the falling runs that end at step i
    for i in range(1, len(smoothed)):
        longest[i] = 1 + max((longest[j] for j in range(i) if smoothed[i] < smoothed[j]), default=0)
        if longest[i] > longest[end]:
            end = i
    start = end - longest[end] + 1
    return float(rates[start + (end - start) // 2])


def _batches(split, batch_size: int, seed: int):
    """Training batches without end: shuffled arrays, or a batched dataset repeated."""
    if not split.arrays:
        while True:
            yield from split.x
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(array_length(split.y))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            batch = functools.partial(_rows, order[start : start + batch_size])
            yield map_arrays(batch, split.x), map_arrays(batch, split.y)


def _rows(index: np.ndarray, values: np.ndarray) -> np.ndarray:
    return values[index]


def _record(config: TrainConfig, rates, losses, smoothed, suggestion: float) -> None:
    """An MLflow run of the test's own: its settings, ``lr_suggested`` and ``lr_find.png``."""
    params = {
        "lr_range_test": {**config.lr_range_test.values(), "steps_run": len(rates)},
        "model": config.option("model"),
        "optimizer": config.option("optimizer"),
    }
    with tempfile.TemporaryDirectory(prefix="ktrain-lr-find-") as folder:
        path = Path(folder) / PLOT
        _plot(rates, losses, smoothed, suggestion, path)
        run_id = record_side_run(
            config.mlflow.tracking_uri,
            config.mlflow.experiment_name,
            f"lr_find {config.option('model')} {config.option('data')}",
            params,
            {"lr_suggested": suggestion},
            [path],
        )
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
