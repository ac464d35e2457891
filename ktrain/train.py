"""The training run, in the order of DESIGN.md: validate, hardware, data, model, callbacks,
fit, evaluate, save, record. The only module that wires the others together."""

import json
import logging
import math
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

import ktrain
from ktrain import cli, hardware, resume, schema
from ktrain.config_tree import print_config_tree
from ktrain.data import SPLITS
from ktrain.errors import UserError, exit_on_user_error
from ktrain.tracking.reachable import check_tracking_server

if TYPE_CHECKING:
    from ktrain.tracking.sweep import SweepJob

log = logging.getLogger(__name__)

# Metric names that Model.compile resolves from the loss, which keras.metrics.get does not know.
COMPILE_ONLY_METRICS = {"acc", "ce", "crossentropy"}


def run(cfg: DictConfig) -> float:
    """Train, evaluate and record one run as ``cfg`` says; return the best monitored value.

    A job of a sweep (``-m``) is a child of the sweep's MLflow run. When it fails it is
    recorded as a FAILED child and scores NaN, so the sweep goes on (a refused single run
    exits 2 instead; in a sweep that exit would end every job).
    """
    if not _in_multirun():
        with exit_on_user_error():
            return _run(cfg, job=None)
    from ktrain.tracking.sweep import SweepJob

    job = SweepJob.current()
    try:
        return _run(cfg, job)
    except Exception as error:
        job.record_failure(error, cfg, Path(HydraConfig.get().runtime.output_dir))
        return math.nan


def _run(cfg: DictConfig, job: "SweepJob | None") -> float:
    if job is not None and job.parallel_jobs > 1:
        _share_cores(cfg.hardware, job)
    resumed_run_id = None
    if cfg.get("resume"):
        cfg, resumed_run_id = resume.load(cfg, _command_line())
    values = schema.validate(cfg, _command_line())
    _drop_callbacks_replaced_by_schedule(cfg, values)
    print_config_tree(values)
    check_tracking_server(cfg.mlflow.tracking_uri)
    hardware.prepare_environment(cfg.hardware)
    if job is not None:  # jobs of a sweep may share a process: each starts from a clean Keras state
        import keras

        keras.backend.clear_session()  # (before setup: it would also forget the seed and precision)
    strategy = hardware.setup(cfg.hardware, cfg.seed)
    with _interrupted_by_sigterm():
        try:
            if hardware.is_chief(cfg.hardware):
                return _train(cfg, values, strategy, job, resumed_run_id)
            return _train_beside_the_chief(cfg, values, strategy)
        except KeyboardInterrupt as stop:
            number = stop.signal_number if isinstance(stop, Interrupted) else signal.SIGINT
            log.warning("run stopped by %s", signal.Signals(number).name)
            if cfg.hardware.strategy != "multi_worker":
                log.warning("continue it with: python train.py resume=%s", cfg.paths.output_dir)
            sys.exit(128 + number)


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _command_line() -> list[str]:
    """The overrides given on the command line (a sweep job's own, sweep values resolved)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _share_cores(hardware_cfg: DictConfig, job: "SweepJob") -> None:
    """Jobs training at once on one machine split its cores; thread counts set in the config win."""
    threads = job.threads()
    for key in ("intra_op_threads", "inter_op_threads"):
        if hardware_cfg[key] is None:
            hardware_cfg[key] = threads
    log.info("hardware: %d jobs at once on this machine; this one uses %s intra-op and %s inter-op threads",
             job.parallel_jobs, hardware_cfg.intra_op_threads, hardware_cfg.inter_op_threads)


def _drop_callbacks_replaced_by_schedule(cfg: DictConfig, values: dict[str, Any]) -> None:
    """A schedule that varies replaces callbacks that set the learning rate (validation has
    refused those named on the command line); the rest are dropped here, and the log says so."""
    for name in schema.callbacks_replaced_by_schedule(values):
        log.info("schedule=%s sets the learning rate, so callbacks.%s is off in this run",
                 values["schedule"].get("name", values["schedule"]["_target_"]), name)
        with open_dict(cfg.callbacks):
            del cfg.callbacks[name]
        del values["callbacks"][name]


def _train_beside_the_chief(cfg: DictConfig, values: dict[str, Any], strategy) -> float:
    """A multi-worker run's other workers train in step with the chief, writing their model,
    checkpoints and backups to a temporary dir (TensorFlow's multi-worker guide) and
    recording nothing: the chief records the run."""
    with tempfile.TemporaryDirectory(prefix="ktrain-worker-") as scratch:
        cfg.paths.output_dir = scratch
        return _train(cfg, values, strategy, job=None, record=False)


def _train(cfg: DictConfig, values: dict[str, Any], strategy, job: "SweepJob | None",
           resumed_run_id: str | None = None, record: bool = True) -> float:
    from ktrain.backup import RunBackup
    from ktrain.history import EpochLog, write_history
    from ktrain.loss_guard import StopOnNonFiniteLoss
    from ktrain.tracking.metrics import MlflowMetricsLogger
    from ktrain.tracking.run import TrackedRun, UnrecordedRun, ui_hint

    run_dir = Path(cfg.paths.output_dir)
    tags = _tags(cfg)
    if resumed_run_id:
        tags["ktrain.resumed_with"] = tags.pop("ktrain.overrides", "")
    tracked = TrackedRun(
        tracking_uri=cfg.mlflow.tracking_uri,
        experiment_name=cfg.mlflow.experiment_name,
        run_dir=run_dir,
        run_name=cfg.mlflow.run_name or (job.name if job else None),
        tags={**tags, **(job.tags if job else {})},
        parent_run_id=job.parent_run_id if job else None,
        run_id=resumed_run_id,
    ) if record else UnrecordedRun()
    with tracked:
        tracked.log_params(values)

        data = _build(cfg.data, "data")
        spec = data.spec
        log.info(
            "data: %s, input shape %s, %d classes, %s samples (train/val/test)",
            cfg.data.name, spec.input_shape, spec.num_classes,
            "/".join(str(spec.split_sizes[s]) for s in ("train", "val", "test")),
        )
        steps_per_epoch = _check_steps(cfg.fit, spec, data.batch_size)
        splits = _splits(data, strategy)

        with strategy.scope():
            model = _build(cfg.model, "model", input_shape=spec.input_shape, num_classes=spec.num_classes)
            learning_rate = _build(
                cfg.schedule, "schedule",
                learning_rate=float(cfg.optimizer.learning_rate),  # Keras refuses an int rate
                steps_per_epoch=steps_per_epoch,
                epochs=cfg.fit.epochs,
            )
            optimizer = _build(cfg.optimizer, "optimizer", learning_rate=learning_rate)
            model.compile(optimizer=optimizer, **_compile_settings(cfg.compile))

        tracked.log_params({
            "model.parameter_count": model.count_params(),
            "data.class_count": spec.num_classes,
            "data.input_shape": list(spec.input_shape),
            **{f"data.{split}_size": size for split, size in spec.split_sizes.items()},
        })
        _write_model_files(model, spec, run_dir, tracked)

        epoch_log = EpochLog()
        configured = [StopOnNonFiniteLoss(), *_callbacks(cfg.callbacks)]
        backup = RunBackup(run_dir / "backup", [*configured, epoch_log], epochs=cfg.fit.epochs,
                           restore=resumed_run_id is not None)
        # The backup follows the callbacks it restores, and MLflow follows the backup: an epoch
        # is logged only once it is backed up (see MlflowMetricsLogger).
        callbacks = [*configured, epoch_log, backup]
        if record:
            callbacks.append(MlflowMetricsLogger(tracked.run_id, epoch_log, backup))
        fit_args = {k: v for k, v in values["fit"].items() if k != "class_weight"}
        fit_args["initial_epoch"] = max(fit_args["initial_epoch"], backup.next_epoch)
        if backup.finished_training:
            fit_args["epochs"] = fit_args["initial_epoch"]  # restore the state, train no epoch
        if backup.state:
            log.info("resume: continuing at epoch %d of %d", fit_args["initial_epoch"] + 1, fit_args["epochs"])
            tracked.set_tags({"ktrain.resumed_at_epoch": str(fit_args["initial_epoch"])})
        if splits["train"].y is None:  # a dataset shuffles itself; Keras warns when fit is asked to
            fit_args["shuffle"] = False
        cli.startup_done()
        try:
            model.fit(
                **splits["train"].fit_args(),
                validation_data=splits["val"].validation_data(),
                callbacks=callbacks,
                class_weight=_class_weight(cfg.fit.class_weight, spec),
                **fit_args,
            )
        finally:
            backup.close()  # a stopped or failed fit still commits (and logs) its last epoch

        test_metrics = model.evaluate(**splits["test"].fit_args(), return_dict=True, verbose=0)
        tracked.log_metrics({f"test_{name}": value for name, value in test_metrics.items()})
        log.info("test: %s", ", ".join(f"{k}={v:.4f}" for k, v in test_metrics.items()))

        model.save(run_dir / "model.keras")
        for path in write_history(epoch_log.rows, run_dir):
            tracked.log_artifact(path)
        if cfg.mlflow.log_model:
            tracked.log_keras_model(model, splits["test"].sample_inputs())

        best = _best(epoch_log.rows, cfg.monitor.metric, cfg.monitor.mode)
        tracked.log_metrics({f"best_{cfg.monitor.metric}": best})

    if not record:
        log.info("worker done; the chief records the run")
        return best
    log.info("run dir:       %s", run_dir)
    log.info("MLflow run id: %s", tracked.run_id)
    log.info("MLflow UI:     %s", ui_hint(cfg.mlflow.tracking_uri))
    return best


class Interrupted(KeyboardInterrupt):
    """SIGTERM, told like Ctrl-C: the run ends KILLED, its checkpoints and backup kept."""

    def __init__(self, signal_number: int):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


@contextmanager
def _interrupted_by_sigterm():
    def interrupt(signal_number, frame):
        raise Interrupted(signal_number)

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _splits(data, strategy) -> dict:
    """The train/val/test splits; with several replicas, the log states the per-replica batch,
    and on JAX (keras.distribution) every batch is made to divide evenly across them."""
    splits = {name: data.split(name) for name in SPLITS}
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return splits
    log.info("data: batch_size=%d is the global batch: %d replicas of %g samples each",
             data.batch_size, replicas, data.batch_size / replicas)
    if not isinstance(strategy, hardware.KerasDistribution):
        return splits
    if data.batch_size % replicas:
        raise UserError(
            f"data.batch_size={data.batch_size} does not divide across the {replicas} replicas; "
            f"on the {hardware.keras_backend()} backend every batch is split evenly, so give a multiple "
            f"of {replicas} (for example data.batch_size={data.batch_size - data.batch_size % replicas or replicas})."
        )
    even = {name: split.divisible(replicas) for name, split in splits.items()}
    dropped = {name: len(splits[name].y) - len(even[name].y) for name in SPLITS if splits[name].y is not None}
    if any(dropped.values()):
        log.info("data: dropped %s sample(s) so that batches divide across the replicas",
                 ", ".join(f"{n} {name}" for name, n in dropped.items() if n))
    return even


def _write_model_files(model, spec, run_dir: Path, tracked) -> None:
    """The model summary and the class names, beside the model and in MLflow."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    summary = run_dir / "model_summary.txt"
    summary.write_text("\n".join(lines) + "\n")
    class_names = run_dir / "class_names.json"
    class_names.write_text(json.dumps(list(spec.class_names), indent=1))
    tracked.log_artifact(summary)
    tracked.log_artifact(class_names)


def _callbacks(entries: DictConfig) -> list:
    """The configured Keras callbacks, in config order; ``null`` entries are left out."""
    callbacks = []
    for name, entry in entries.items():
        if entry is None:
            continue
        for key in ("filepath", "filename", "log_dir"):
            if key in entry:
                Path(entry[key]).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(_build(entry, f"callbacks.{name}"))
    return callbacks


def _build(node: DictConfig, key: str, **kwargs: Any) -> Any:
    """``instantiate(node)``; a failure is the user's config, reported as one paragraph that
    names ``key`` (Hydra wraps what the target raised, and a builder's own ``UserError``
    already says what is allowed)."""
    try:
        return instantiate(node, **kwargs, _convert_="all")
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        raise UserError(
            f"{key}: {node.get('_target_')} refused its settings: {type(cause or error).__name__}: "
            f"{cause or error}. Check the {key}.* values (python train.py --cfg job shows them); "
            "the full traceback is in the run's train.log."
        ) from error


def _compile_settings(node: DictConfig) -> dict[str, Any]:
    """``compile.*`` for ``Model.compile``, with loss and metric names checked now: Keras
    itself only looks them up once ``fit`` has started."""
    import keras

    settings = _build(node, "compile")
    unknown = []
    if isinstance(settings.get("loss"), str):
        try:
            keras.losses.get(settings["loss"])
        except ValueError:
            unknown.append(f"compile.loss={settings['loss']} is not a Keras loss")
    for metric in settings.get("metrics") or []:
        if isinstance(metric, str) and metric.lower() not in COMPILE_ONLY_METRICS:
            try:
                keras.metrics.get(metric)
            except ValueError:
                unknown.append(f"compile.metrics has {metric}, which is not a Keras metric")
    if unknown:
        raise UserError(
            "; ".join(unknown) + ". Give names that keras.losses.get and keras.metrics.get know "
            "(for example compile.loss=sparse_categorical_crossentropy compile.metrics=[accuracy]), "
            "or a {_target_: ...} mapping to a loss or metric class."
        )
    return settings


def _check_steps(fit: DictConfig, spec, batch_size: int) -> int:
    """The steps of one epoch; ``UserError`` if the batch or the asked steps exceed the data
    (Keras would train on one short batch, or run out of data with only a warning)."""
    sizes = spec.split_sizes
    if batch_size > sizes["train"]:
        raise UserError(
            f"data.batch_size={batch_size} is larger than the train split ({sizes['train']} samples), "
            f"so every epoch would be one short batch. Give data.batch_size of at most {sizes['train']}, "
            "or more data."
        )
    available = {"train": math.ceil(sizes["train"] / batch_size), "val": math.ceil(sizes["val"] / batch_size)}
    for key, split in (("steps_per_epoch", "train"), ("validation_steps", "val")):
        asked = fit[key]
        if asked is not None and asked > available[split]:
            raise UserError(
                f"fit.{key}={asked} is more than the {split} split holds: {sizes[split]} samples in "
                f"batches of {batch_size} make {available[split]} steps. Give fit.{key} of at most "
                f"{available[split]}, or null for one pass over the {split} split."
            )
    return fit.steps_per_epoch or available["train"]


def _class_weight(setting: Any, spec) -> dict[int, float] | None:
    """``fit.class_weight``: as given, or ``balanced``: n / (classes * count) per class."""
    if setting != "balanced":
        return None if setting is None else {int(k): float(v) for k, v in setting.items()}
    total = sum(spec.class_counts)
    return {
        index: total / (spec.num_classes * count)
        for index, count in enumerate(spec.class_counts)
        if count
    }


def _best(rows: list[dict[str, float]], metric: str, mode: str) -> float:
    """The best value of ``metric`` over the epochs (NaN if it was never logged)."""
    values = [row[metric] for row in rows if metric in row and not math.isnan(row[metric])]
    if not values:
        log.warning("monitor: %s was never logged; returning NaN", metric)
        return math.nan
    return min(values) if mode == "min" else max(values)


def _tags(cfg: DictConfig) -> dict[str, str]:
    import keras

    tags = {
        "ktrain.version": ktrain.__version__,
        "keras.version": keras.__version__,
        "keras.backend": keras.backend.backend(),
    }
    if sys.modules.get("tensorflow"):  # imported (None marks a blocked import)
        tags["tensorflow.version"] = sys.modules["tensorflow"].__version__
    if HydraConfig.initialized():
        tags["ktrain.overrides"] = " ".join(HydraConfig.get().overrides.task)
    commit = _git_commit(cfg.paths.root_dir)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def _git_commit(directory: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None
