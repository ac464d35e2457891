"""The training run, in the order of DESIGN.md: validate, hardware, data, model, callbacks,
fit, evaluate, save, record. The only module that wires the others together."""

import json
import logging
import math
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

import ktrain
from ktrain import hardware, schema
from ktrain.config_tree import print_config_tree
from ktrain.errors import exit_on_user_error

if TYPE_CHECKING:
    from ktrain.tracking.sweep import SweepJob

log = logging.getLogger(__name__)


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
    values = schema.validate(cfg, _command_line())
    _drop_callbacks_replaced_by_schedule(cfg, values)
    print_config_tree(values)
    hardware.prepare_environment(cfg.hardware)
    if job is not None:  # jobs of a sweep may share a process: each starts from a clean Keras state
        import keras

        keras.backend.clear_session()  # (before setup: it would also forget the seed and precision)
    strategy = hardware.setup(cfg.hardware, cfg.seed)
    return _train(cfg, values, strategy, job)


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


def _train(cfg: DictConfig, values: dict[str, Any], strategy, job: "SweepJob | None") -> float:
    from ktrain.history import EpochLog, write_history
    from ktrain.tracking.metrics import MlflowMetricsLogger
    from ktrain.tracking.run import TrackedRun, ui_hint

    run_dir = Path(cfg.paths.output_dir)
    tracked = TrackedRun(
        tracking_uri=cfg.mlflow.tracking_uri,
        experiment_name=cfg.mlflow.experiment_name,
        run_dir=run_dir,
        run_name=cfg.mlflow.run_name or (job.name if job else None),
        tags={**_tags(cfg), **(job.tags if job else {})},
        parent_run_id=job.parent_run_id if job else None,
    )
    with tracked:
        tracked.log_params(values)

        data = instantiate(cfg.data, _convert_="all")
        spec = data.spec
        log.info(
            "data: %s, input shape %s, %d classes, %s samples (train/val/test)",
            cfg.data.name, spec.input_shape, spec.num_classes,
            "/".join(str(spec.split_sizes[s]) for s in ("train", "val", "test")),
        )
        steps_per_epoch = cfg.fit.steps_per_epoch or math.ceil(spec.split_sizes["train"] / data.batch_size)

        with strategy.scope():
            model = instantiate(
                cfg.model, input_shape=spec.input_shape, num_classes=spec.num_classes, _convert_="all"
            )
            learning_rate = instantiate(
                cfg.schedule,
                learning_rate=cfg.optimizer.learning_rate,
                steps_per_epoch=steps_per_epoch,
                epochs=cfg.fit.epochs,
            )
            optimizer = instantiate(cfg.optimizer, learning_rate=learning_rate)
            model.compile(optimizer=optimizer, **instantiate(cfg.compile, _convert_="all"))

        tracked.log_params({
            "model.parameter_count": model.count_params(),
            "data.class_count": spec.num_classes,
            "data.input_shape": list(spec.input_shape),
            **{f"data.{split}_size": size for split, size in spec.split_sizes.items()},
        })
        _write_model_files(model, spec, run_dir, tracked)

        epoch_log = EpochLog()
        callbacks = [*_callbacks(cfg.callbacks), epoch_log, MlflowMetricsLogger(tracked.run_id)]
        train = data.split("train")
        fit_kwargs = {k: v for k, v in values["fit"].items() if k != "class_weight"}
        if train.y is None:  # a dataset shuffles itself; Keras warns when fit is asked to
            fit_kwargs["shuffle"] = False
        model.fit(
            **train.fit_args(),
            validation_data=data.split("val").validation_data(),
            callbacks=callbacks,
            class_weight=_class_weight(cfg.fit.class_weight, spec),
            **fit_kwargs,
        )

        test_metrics = model.evaluate(**data.split("test").fit_args(), return_dict=True, verbose=0)
        tracked.log_metrics({f"test_{name}": value for name, value in test_metrics.items()})
        log.info("test: %s", ", ".join(f"{k}={v:.4f}" for k, v in test_metrics.items()))

        model.save(run_dir / "model.keras")
        for path in write_history(epoch_log.rows, run_dir):
            tracked.log_artifact(path)
        if cfg.mlflow.log_model:
            tracked.log_keras_model(model, data.split("test").sample_inputs())

        best = _best(epoch_log.rows, cfg.monitor.metric, cfg.monitor.mode)
        tracked.log_metrics({f"best_{cfg.monitor.metric}": best})

    log.info("run dir:       %s", run_dir)
    log.info("MLflow run id: %s", tracked.run_id)
    log.info("MLflow UI:     %s", ui_hint(cfg.mlflow.tracking_uri))
    return best


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
        callbacks.append(instantiate(entry, _convert_="all"))
    return callbacks


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
    if "tensorflow" in sys.modules:
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
