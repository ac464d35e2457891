"""How long the training loop waits for MLflow per epoch.

Trains the default CNN on digits in-process into a real SQLite store four ways and times
what the loop spends in the epoch-end callbacks that record the epoch, and the epochs:

- none: no recording, the baseline for the epoch time;
- synchronous: a callback that calls ``MlflowClient.log_batch`` and waits for the store;
- asynchronous: ktrain's ``MlflowMetricsLogger`` without a backup (MLflow's async queue);
- ktrain: the default run's pair, ``RunBackup`` then ``MlflowMetricsLogger``: the loop
  copies the variables, a writer thread saves them and then logs the epoch.

The ways take turns over ``--rounds`` fits of ``--epochs`` each (a fit's first epoch,
which traces the model, is left out); an epoch's figure is the median. Measured in one
process, the epoch times are less noisy than whole-process timings (overhead.py), though
on a busy machine they still move by several percent from run to run.

    python benchmarks/tracking.py [--rounds 6] [--epochs 12] [--json benchmarks/results/tracking.json]
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

ROOT = Path(__file__).resolve().parents[1]
MODES = ("none", "synchronous", "asynchronous", "ktrain")


def measure(mode: str, epochs: int, tracking_uri: str, scratch: Path) -> dict[str, float]:
    import keras
    import mlflow

    from ktrain.backup import RunBackup
    from ktrain.data.arrays import DigitsData
    from ktrain.history import EpochLog
    from ktrain.models.small import simple_cnn
    from ktrain.tracking.metrics import MlflowMetricsLogger, _metrics

    class SynchronousLogger(keras.callbacks.Callback):
        def __init__(self, run_id, epoch_log):
            super().__init__()
            self.run_id, self.epoch_log, self.client = run_id, epoch_log, mlflow.MlflowClient()

        def on_epoch_end(self, epoch, logs=None):
            self.client.log_batch(self.run_id, metrics=_metrics(self.epoch_log.rows[-1]), synchronous=True)

    class Stopwatch(keras.callbacks.Callback):
        """Wraps the recording callbacks: time in their on_epoch_end vs the whole epoch."""

        def __init__(self, recording):
            super().__init__()
            self.recording, self.epochs_s, self.started = recording, [], 0.0
            self.blocked_s = {type(callback).__name__: 0.0 for callback in recording}

        def set_model(self, model):
            super().set_model(model)
            for callback in self.recording:
                callback.set_model(model)

        def on_train_begin(self, logs=None):
            for callback in self.recording:
                callback.on_train_begin(logs)

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            for callback in self.recording:
                start = time.perf_counter()
                callback.on_epoch_end(epoch, logs)
                self.blocked_s[type(callback).__name__] += time.perf_counter() - start
            self.epochs_s.append(time.perf_counter() - self.started)

    data = DigitsData(batch_size=32, seed=42)
    model = simple_cnn(data.spec.input_shape, data.spec.num_classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    epoch_log = EpochLog()
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run() as run:
        backup = None
        if mode == "none":
            recording = []
        elif mode == "synchronous":
            recording = [SynchronousLogger(run.info.run_id, epoch_log)]
        elif mode == "asynchronous":
            recording = [MlflowMetricsLogger(run.info.run_id, epoch_log)]
        else:
            backup = RunBackup(scratch / f"backup-{time.monotonic_ns()}", [epoch_log], epochs=epochs, restore=False)
            recording = [backup, MlflowMetricsLogger(run.info.run_id, epoch_log, backup)]
        stopwatch = Stopwatch(recording)
        model.fit(**data.split("train").fit_args(), validation_data=data.split("val").validation_data(),
                  epochs=epochs, callbacks=[epoch_log, stopwatch], verbose=0)
        start = time.perf_counter()
        if backup is not None:
            backup.close()
        mlflow.flush_async_logging()
        flush_s = time.perf_counter() - start
    blocked = {name: 1000 * seconds / epochs for name, seconds in stopwatch.blocked_s.items()}
    return {"mlflow_blocked_ms_per_epoch": sum(v for k, v in blocked.items() if k != "RunBackup"),
            "backup_blocked_ms_per_epoch": blocked.get("RunBackup", 0.0),
            "epochs_ms": [1000 * seconds for seconds in stopwatch.epochs_s[1:]], "final_flush_ms": 1000 * flush_s}


def summarize(fits: list[dict]) -> dict[str, float]:
    """The median of each figure over a way's fits; the epoch time over all their epochs."""
    summary = {key: statistics.median(fit[key] for fit in fits) for key in fits[0] if key != "epochs_ms"}
    summary["epoch_ms"] = statistics.median(ms for fit in fits for ms in fit["epochs_ms"])
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "tracking.json")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="ktrain-tracking-"))
    uri = f"sqlite:///{scratch / 'mlflow.db'}"
    for mode in MODES:  # warm up: store creation, tracing, the backup's first save
        measure(mode, 1, uri, scratch)
    fits: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for round_ in range(args.rounds):
        for mode in MODES if round_ % 2 == 0 else reversed(MODES):
            fits[mode].append(measure(mode, args.epochs, uri, scratch))
    result = {mode: summarize(mode_fits) for mode, mode_fits in fits.items()}
    for r in result.values():
        r["epoch_ratio"] = r["epoch_ms"] / result["none"]["epoch_ms"]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print("| recording | loop blocked by MLflow per epoch (ms) | by the backup (ms) | epoch (ms) "
          "| epoch / none | flush at run end (ms) |")
    print("|---|---|---|---|---|---|")
    for mode, r in result.items():
        print(f"| {mode} | {r['mlflow_blocked_ms_per_epoch']:.2f} | {r['backup_blocked_ms_per_epoch']:.2f} "
              f"| {r['epoch_ms']:.1f} | {r['epoch_ratio']:.3f} | {r['final_flush_ms']:.1f} |")


if __name__ == "__main__":
    main()
