"""What recording each epoch costs the training loop, checkpoint saves included.

Trains the default CNN on digits in-process into a real SQLite store, in ways that take turns,
and counts what the loop spends in the callbacks that record an epoch, and what every other
Python thread spends (the backup's and the checkpoints' writers, the uploads' staging thread,
MLflow's queue):

- none: no callback, the bare script's fit (the baseline);
- best_checkpoint: Keras' own ModelCheckpoint with save_best_only, saving in the loop, as the
  plain script with a best checkpoint does (the second baseline);
- synchronous: a callback that calls ``MlflowClient.log_batch`` and waits for the store;
- asynchronous: ktrain's ``MlflowMetricsLogger`` alone (MLflow's asynchronous queue);
- ktrain: everything the default run adds: the NaN check, ``EpochLog``, ``RunBackup``,
  ``MlflowMetricsLogger`` (the epoch logged once its backup is committed), the best and the
  last checkpoint saved in the background (``ktrain.callbacks.ModelCheckpoint(background=True)``)
  and both checkpoints and the backup sent to MLflow as they are written
  (``CheckpointUploads``, ``BackupUploads``), each checkpoint made a LoggedModel
  (``CheckpointModels``) and the system metrics sampled (``SystemMetrics``). The LoggedModels
  are made at most every 30 s, so within these short fits at their close: their CPU is timed
  there, per model (``logged_model_cpu_ms``);
- ktrain_in_loop: the same with both checkpoints saved in the loop, as before.

``--big-checkpoint-mb`` then times what the loop spends handing a checkpoint of that size
over (noticing it, then waiting at the next epoch's end for its copy) against the copy's
and the upload's own time, into a real ``mlflow server`` on 127.0.0.1 if ``--server`` gives
its address, else into the SQLite store's artifact folder.

The ways take turns over ``--rounds`` fits of ``--epochs`` each; a fit's first epoch, which
traces the model, is left out. Epoch times are timed too, but on a busy machine they move by
several percent from run to run, so the cost is also counted: the wall time the loop spends
in the recording callbacks' epoch hooks, plus the other threads' CPU time over the fit. That
sum per epoch bounds what the recording adds to an epoch from above (the threads cost the loop
at most their own CPU time, when it has no core to spare), so "counted, at most" is
epoch / (epoch - sum), from the same fits; against best_checkpoint it is the same bound with
that way's own counted saves taken off.

    python benchmarks/tracking.py [--rounds 6] [--epochs 12] [--json benchmarks/results/tracking.json]
"""

import argparse
import json
import math
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

ROOT = Path(__file__).resolve().parents[1]
MODES = ("none", "best_checkpoint", "synchronous", "asynchronous", "ktrain", "ktrain_in_loop")


def other_threads_cpu_s() -> dict[int, float]:
    """CPU seconds each Python thread other than this one has used, by thread id."""
    return {
        thread.ident: time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        for thread in threading.enumerate()
        if thread is not threading.current_thread() and thread.ident is not None
    }


def measure(mode: str, epochs: int, tracking_uri: str, scratch: Path) -> dict[str, float]:
    import keras
    import mlflow

    from ktrain.callbacks import EpochLog, ModelCheckpoint, RunBackup, StopOnNonFiniteLoss
    from ktrain.data.arrays import DigitsData
    from ktrain.models.small import simple_cnn
    from ktrain.run.callback_plan import background_writers, checkpoint_files
    from ktrain.tracking.backup_uploads import BackupUploads
    from ktrain.tracking.checkpoints import CheckpointUploads
    from ktrain.tracking.logged_models import CheckpointModels
    from ktrain.tracking.metrics import MlflowMetricsLogger, _metrics
    from ktrain.tracking.system_metrics import SystemMetrics
    from ktrain.tracking.uploads import Uploads

    class SynchronousLogger(keras.callbacks.Callback):
        def __init__(self, run_id, epoch_log):
            super().__init__()
            self.run_id, self.epoch_log, self.client = run_id, epoch_log, mlflow.MlflowClient()

        def on_epoch_end(self, epoch, logs=None):
            self.client.log_batch(self.run_id, metrics=_metrics(self.epoch_log.rows[-1]), synchronous=True)

    class Stopwatch(keras.callbacks.Callback):
        """Wraps the recording callbacks: time in their epoch hooks vs the whole epoch."""

        def __init__(self, recording):
            super().__init__()
            self.recording, self.epochs_s, self.started = recording, [], 0.0
            self.blocked_s = {type(callback).__name__: [] for callback in recording}  # per epoch, by class

        def set_model(self, model):
            super().set_model(model)
            for callback in self.recording:
                callback.set_model(model)

        def on_train_begin(self, logs=None):
            for callback in self.recording:
                callback.on_train_begin(logs)

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()
            for seconds in self.blocked_s.values():
                seconds.append(0.0)
            for callback in self.recording:
                start = time.perf_counter()
                callback.on_epoch_begin(epoch, logs)
                self.blocked_s[type(callback).__name__][-1] += time.perf_counter() - start

        def on_train_batch_begin(self, batch, logs=None):  # where the writers are let go
            for callback in self.recording:
                start = time.perf_counter()
                callback.on_train_batch_begin(batch, logs)
                self.blocked_s[type(callback).__name__][-1] += time.perf_counter() - start

        def on_epoch_end(self, epoch, logs=None):
            for callback in self.recording:
                start = time.perf_counter()
                callback.on_epoch_end(epoch, logs)
                self.blocked_s[type(callback).__name__][-1] += time.perf_counter() - start
            self.epochs_s.append(time.perf_counter() - self.started)

    data = DigitsData(batch_size=32, seed=42)
    model = simple_cnn(data.spec.input_shape, data.spec.num_classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    epoch_log = EpochLog()
    mlflow.set_tracking_uri(tracking_uri)
    folder = scratch / f"run-{time.monotonic_ns()}"
    with mlflow.start_run() as run:
        backup, uploads, recording, models, monitor = None, None, [], None, None
        if mode == "best_checkpoint":
            recording = [keras.callbacks.ModelCheckpoint(folder / "best.keras", save_best_only=True)]
        elif mode == "synchronous":
            recording = [SynchronousLogger(run.info.run_id, epoch_log)]
        elif mode == "asynchronous":
            recording = [MlflowMetricsLogger(run.info.run_id, epoch_log)]
        elif mode in ("ktrain", "ktrain_in_loop"):
            background = mode == "ktrain"
            checkpoints = [
                ModelCheckpoint(folder / "best.keras", save_best_only=True, background=background),
                ModelCheckpoint(folder / "last.keras", background=background),
            ]
            backup = RunBackup(folder / "backup", [epoch_log], epochs=epochs, restore=False)
            uploads = Uploads(mlflow.MlflowClient(), run.info.run_id, folder)
            files, in_place = checkpoint_files(checkpoints)  # as a run finds them
            logger = MlflowMetricsLogger(run.info.run_id, epoch_log, backup)
            models = CheckpointModels(uploads.client, run.info.run_id, logger.metrics_at)
            writers = background_writers(checkpoints)
            recording = [
                StopOnNonFiniteLoss(),
                CheckpointUploads(uploads, files, copy=in_place, models=models, writers=writers),
                *checkpoints,
                epoch_log,
                backup,
                BackupUploads(uploads, backup),
                logger,
            ]
            monitor = SystemMetrics(run.info.run_id, tracking_uri).start()
        stopwatch = Stopwatch(recording)
        callbacks = [stopwatch] if epoch_log in recording else [epoch_log, stopwatch]
        threads_before = other_threads_cpu_s()
        model.fit(
            **data.split("train").fit_args(),
            validation_data=data.split("val").validation_data(),
            epochs=epochs,
            callbacks=callbacks,
            verbose=0,
        )
        # Before the closes and the flush, which end threads (the uploads' staging thread, MLflow's)
        # and their clocks with them: what the fit cost them (the run-end flush is timed apart).
        threads_cpu_s = sum(
            seconds - threads_before.get(ident, 0.0) for ident, seconds in other_threads_cpu_s().items()
        )
        start = time.perf_counter()
        models_cpu_s, made = 0.0, 0
        if backup is not None:
            monitor.close()
            for callback in recording:  # the checkpoints, the backup, then what sends them
                if isinstance(callback, ModelCheckpoint | RunBackup):
                    callback.close()
            for callback in recording:
                if isinstance(callback, CheckpointUploads | BackupUploads):
                    callback.close()
            uploads.close()
            models_cpu_s = time.thread_time()
            made = models.close()  # makes the models in this thread
            models_cpu_s = time.thread_time() - models_cpu_s
        mlflow.flush_async_logging()
        flush_s = time.perf_counter() - start
    blocked = {name: 1000 * statistics.mean(seconds[1:]) for name, seconds in stopwatch.blocked_s.items()}
    loggers = ("SynchronousLogger", "MlflowMetricsLogger", "CheckpointUploads", "BackupUploads")
    return {
        "mlflow_blocked_ms_per_epoch": sum(v for k, v in blocked.items() if k in loggers),
        "backup_blocked_ms_per_epoch": blocked.get("RunBackup", 0.0),
        "checkpoints_blocked_ms_per_epoch": blocked.get("ModelCheckpoint", 0.0),
        "others_blocked_ms_per_epoch": sum(
            v for k, v in blocked.items() if k not in (*loggers, "RunBackup", "ModelCheckpoint")
        ),
        "threads_cpu_ms_per_epoch": 1000 * threads_cpu_s / epochs,
        "epochs_ms": [1000 * seconds for seconds in stopwatch.epochs_s[1:]],
        "final_flush_ms": 1000 * flush_s,
        "logged_model_cpu_ms": 1000 * models_cpu_s / made if made else 0.0,
    }


def big_checkpoint(size_mb: int, tracking_uri: str, scratch: Path, epoch_s: float = 2.0) -> dict[str, float]:
    """A checkpoint of ``size_mb`` written at each of 4 epochs' ends, handed to
    ``CheckpointUploads`` as in a run: the loop's time noticing it (the epoch's start) and
    waiting for its copy (the next epoch's end), against the copy's and upload's own time."""
    import shutil

    import mlflow

    from ktrain.tracking.checkpoints import CheckpointUploads
    from ktrain.tracking.uploads import Uploads

    client = mlflow.MlflowClient(tracking_uri)
    run_id = client.create_run(client.get_experiment_by_name("Default").experiment_id).info.run_id
    folder = scratch / f"big-{time.monotonic_ns()}"
    folder.mkdir()
    uploads = Uploads(client, run_id, folder)
    callback = CheckpointUploads(uploads, {"best": folder / "best.keras"}, "best")
    callback.on_train_begin()
    payload = os.urandom(size_mb * 1_000_000)
    handover_ms, waited_ms, copy_ms = [], [], []
    for epoch in range(4):
        (folder / "best.keras").write_bytes(payload)  # what ModelCheckpoint does at an epoch's end
        start = time.perf_counter()
        callback.on_epoch_begin(epoch + 1)
        handover_ms.append(1000 * (time.perf_counter() - start))
        time.sleep(epoch_s)  # the next epoch trains
        start = time.perf_counter()
        callback.on_epoch_end(epoch + 1)
        waited_ms.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        shutil.copyfile(folder / "best.keras", folder / "copy.keras")
        copy_ms.append(1000 * (time.perf_counter() - start))
    start = time.perf_counter()
    uploads.close()
    return {
        "size_mb": size_mb,
        "loop_handover_ms": statistics.median(handover_ms),
        "loop_wait_for_copy_ms": statistics.median(waited_ms),
        "copy_ms": statistics.median(copy_ms),
        "upload_s_total": uploads.sent_s,
        "final_close_s": time.perf_counter() - start,
    }


def summarize(fits: list[dict]) -> dict[str, float]:
    """The median of each figure over a way's fits; the epoch time over all their epochs,
    with the standard error of that median (1.25 standard deviations over the root of the
    count, for roughly normal epoch times)."""
    summary = {key: statistics.median(fit[key] for fit in fits) for key in fits[0] if key != "epochs_ms"}
    epochs_ms = [ms for fit in fits for ms in fit["epochs_ms"]]
    summary["epoch_ms"] = statistics.median(epochs_ms)
    summary["epoch_ms_standard_error"] = 1.25 * statistics.stdev(epochs_ms) / len(epochs_ms) ** 0.5
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "tracking.json")
    parser.add_argument("--big-checkpoint-mb", type=int, default=100)
    parser.add_argument("--server", help="an mlflow server's address for the big checkpoint's uploads")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="ktrain-tracking-"))
    uri = f"sqlite:///{scratch / 'mlflow.db'}"
    big = big_checkpoint(args.big_checkpoint_mb, args.server or uri, scratch) if args.big_checkpoint_mb else None
    for mode in MODES:  # warm up: store creation, tracing, the backup's first save
        measure(mode, 2, uri, scratch)
    fits: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for round_ in range(args.rounds):
        for mode in MODES if round_ % 2 == 0 else reversed(MODES):
            fits[mode].append(measure(mode, args.epochs, uri, scratch))
    result = {mode: summarize(mode_fits) for mode, mode_fits in fits.items()}
    none = result["none"]
    parts = ("mlflow", "backup", "checkpoints", "others")
    for r in result.values():
        r["epoch_ratio"] = r["epoch_ms"] / none["epoch_ms"]
        r["epoch_ratio_standard_error"] = (
            0.0
            if r is none
            else r["epoch_ratio"]
            * math.hypot(
                r["epoch_ms_standard_error"] / r["epoch_ms"], none["epoch_ms_standard_error"] / none["epoch_ms"]
            )
        )
        r["loop_blocked_ms_per_epoch"] = sum(r[f"{part}_blocked_ms_per_epoch"] for part in parts)
        r["counted_ms_per_epoch"] = r["loop_blocked_ms_per_epoch"] + r["threads_cpu_ms_per_epoch"]
        r["counted_ratio_bound"] = r["epoch_ms"] / (r["epoch_ms"] - r["counted_ms_per_epoch"])
    best = result["best_checkpoint"]["counted_ms_per_epoch"]
    for r in result.values():  # against the script with a best checkpoint: its own saves put back
        r["counted_ratio_bound_vs_best_checkpoint"] = r["epoch_ms"] / (r["epoch_ms"] - r["counted_ms_per_epoch"] + best)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**result, "big_checkpoint": big}, indent=1))
    print(
        "| recording | loop blocked per epoch (ms): MLflow | backup | checkpoints | NaN check, EpochLog | "
        "other threads' CPU (ms) | epoch (ms) | epoch / none: timed | counted, at most: / none | "
        "/ best_checkpoint | flush at run end (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for mode, r in result.items():
        print(
            f"| {mode} | {r['mlflow_blocked_ms_per_epoch']:.2f} | {r['backup_blocked_ms_per_epoch']:.2f} "
            f"| {r['checkpoints_blocked_ms_per_epoch']:.2f} | {r['others_blocked_ms_per_epoch']:.2f} "
            f"| {r['threads_cpu_ms_per_epoch']:.2f} | {r['epoch_ms']:.1f} "
            f"| {r['epoch_ratio']:.3f} ± {r['epoch_ratio_standard_error']:.3f} "
            f"| {r['counted_ratio_bound']:.3f} | {r['counted_ratio_bound_vs_best_checkpoint']:.3f} "
            f"| {r['final_flush_ms']:.1f} |"
        )
    per_model = result["ktrain"]["logged_model_cpu_ms"]
    print(
        f"\na checkpoint LoggedModel: {per_model:.1f} ms of CPU; the best and the last, at most every 30 s: "
        f"{100 * 2 * per_model / 30_000:.3f} % of a core"
    )
    if big:
        print(
            f"\n{big['size_mb']} MB checkpoint: the loop spent {big['loop_handover_ms']:.2f} ms handing it over and "
            f"{big['loop_wait_for_copy_ms']:.2f} ms waiting for its copy (median of 4 epochs); the copy took "
            f"{big['copy_ms']:.0f} ms, the 4 uploads {big['upload_s_total']:.2f} s in all"
        )


if __name__ == "__main__":
    main()
