"""One training run, as a recipe: record, data, model, callbacks, fit, evaluate, save.

The only module that wires the others together (see docs/design.md); ``ktrain.train`` calls
it once the config is valid and the hardware prepared, since it imports Keras.
"""

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import keras

from ktrain import cli, fine_tune, fitting, hardware, lr_find, outputs
from ktrain.build import build, compiled_model, configured_callbacks
from ktrain.callbacks import EpochLog, RunBackup, StopOnNonFiniteLoss
from ktrain.names import BACKUP_DIR, FINAL_MODEL, RESUMED_AT_TAG
from ktrain.schema import TrainConfig
from ktrain.search.trial import pruning_callbacks, tag_if_pruned
from ktrain.tracking.holder import holding
from ktrain.tracking.metrics import MlflowMetricsLogger
from ktrain.tracking.run import TrackedRun, UnrecordedRun, ui_hint
from ktrain.tracking.run_files import RunFiles
from ktrain.tracking.tags import run_tags

if TYPE_CHECKING:
    from ktrain.tracking.sweep import SweepJob

log = logging.getLogger(__name__)


def train(
    config: TrainConfig, strategy, job: "SweepJob | None", resumed_run_id: str | None, record: bool = True
) -> float:
    """Train and, if ``record``, record the run; return the best value of ``monitor.metric``
    (``lr_find=true``: run the LR range test alone, and return its suggestion)."""
    if config.lr_find:
        return lr_find.find(config, strategy)
    if config.optimizer["learning_rate"] == "auto":
        lr_find.use_suggestion(config, strategy)
    run_dir = Path(config.paths.output_dir)
    if not record:
        return _train(config, strategy, UnrecordedRun(), run_dir, restore=resumed_run_id is not None)
    tracked = TrackedRun(
        tracking_uri=config.mlflow.tracking_uri,
        experiment_name=config.mlflow.experiment_name,
        run_dir=run_dir,
        run_name=config.mlflow.run_name or (job.name if job else None),
        tags={**run_tags(config.paths.root_dir, resumed=resumed_run_id is not None), **(job.tags if job else {})},
        parent_run_id=job.parent_run_id if job else None,
        run_id=resumed_run_id,
        checkpoints_at_end=config.mlflow.checkpoints == "end",  # else sent as written (RunFiles)
    )
    with holding(run_dir, config.mlflow.tracking_uri, lambda: tracked.run_id):  # one process per run
        best = _train(config, strategy, tracked, run_dir, restore=resumed_run_id is not None)
    log.info("run dir:       %s", run_dir)
    log.info("MLflow run id: %s", tracked.run_id)
    log.info("MLflow UI:     %s", ui_hint(config.mlflow.tracking_uri))
    return best


def clear_keras_session() -> None:
    keras.backend.clear_session()


def _train(config: TrainConfig, strategy, tracked, run_dir: Path, restore: bool) -> float:
    with tracked:
        tracked.log_params(config.values())
        tracked.log_params(config.chosen_options())  # model=simple_cnn, ...: the group options
        # Seeded again: starting an MLflow run draws its name from Python's random, and every
        # process of a multi-host run has to draw the same data order and initial weights.
        keras.utils.set_random_seed(config.seed)
        data = build(config.data, "data")
        spec = data.spec
        log.info(
            "data: %s, input shape %s, %d classes, %s samples (train/val/test)",
            config.option("data"),
            spec.input_shape,
            spec.num_classes,
            "/".join(str(spec.split_sizes[s]) for s in ("train", "val", "test")),
        )
        steps = fitting.steps_per_epoch(config.fit, spec, data.batch_size)
        splits = hardware.split_across_replicas(data, strategy)
        with strategy.scope():
            model = compiled_model(config, spec, steps)
        tracked.log_params(
            {
                "model.parameter_count": model.count_params(),
                "data.class_count": spec.num_classes,
                "data.input_shape": list(spec.input_shape),
                **{f"data.{split}_size": size for split, size in spec.split_sizes.items()},
            }
        )
        for path in outputs.write_model_files(model, spec.class_names, run_dir):
            tracked.log_artifact(path)
        rows = _fit(config, model, splits, spec, run_dir, tracked, restore, strategy)
        _evaluate_and_save(config, model, splits["test"], run_dir, rows, tracked)
        best = fitting.best(rows, config.monitor.metric, config.monitor.mode)
        tracked.log_metrics({f"best_{config.monitor.metric}": best})
    return best


def _fit(config: TrainConfig, model, splits, spec, run_dir: Path, tracked, restore: bool, strategy) -> list[dict]:
    """``model.fit`` with the configured callbacks, the epoch log, the backup and the MLflow
    logger, continuing a restored backup (in two phases with ``fine_tune``); return the rows
    of every epoch."""
    epoch_log = EpochLog()
    configured = [StopOnNonFiniteLoss(), *configured_callbacks(config.callbacks)]
    backup = RunBackup(run_dir / BACKUP_DIR, [*configured, epoch_log], epochs=config.fit.epochs, restore=restore)
    # The backup follows the callbacks it restores, and MLflow follows the backup: an epoch
    # is logged only once it is backed up (see MlflowMetricsLogger).
    # The checkpoint uploads come before the configured callbacks (see CheckpointUploads).
    files = RunFiles(config, tracked.run_id, run_dir, configured, backup)
    callbacks = [*files.first, *configured, epoch_log, backup, *files.last]
    if tracked.run_id is not None:
        callbacks.append(MlflowMetricsLogger(tracked.run_id, epoch_log, backup))
    pruning = pruning_callbacks(config.optuna, config.monitor.metric)  # [] outside an Optuna search
    callbacks += pruning
    arguments = fitting.fit_arguments(config.fit, spec, backup, shuffle_arrays=splits["train"].y is not None)
    if backup.state:
        log.info("resume: continuing at epoch %d of %d", arguments["initial_epoch"] + 1, arguments["epochs"])
        tracked.set_tags({RESUMED_AT_TAG: str(arguments["initial_epoch"])})
    cli.startup_done()

    def fit(**overrides):
        return model.fit(
            **splits["train"].fit_args(),
            validation_data=splits["val"].validation_data(),
            callbacks=callbacks,
            **{**arguments, **overrides},
        )

    with ExitStack() as closing:  # last in, first out: whatever either raises, both are closed
        closing.callback(files.close)  # and sends what it wrote
        closing.callback(backup.close)  # a stopped or failed fit still commits (and logs) its last epoch
        if config.fine_tune is None:
            fit()
        else:
            fine_tune.fit_in_phases(model, config, fit, arguments, backup, configured, strategy)
    tag_if_pruned(tracked, pruning)
    return epoch_log.rows


def _evaluate_and_save(config: TrainConfig, model, test_split, run_dir: Path, rows, tracked) -> None:
    """Test metrics, the final model, the history files, and the model in MLflow."""
    test_metrics = model.evaluate(**test_split.fit_args(), return_dict=True, verbose=0)
    tracked.log_metrics({f"test_{name}": value for name, value in test_metrics.items()})
    log.info("test: %s", ", ".join(f"{k}={v:.4f}" for k, v in test_metrics.items()))
    model.save(run_dir / FINAL_MODEL)
    for path in outputs.write_history(rows, run_dir):
        tracked.log_artifact(path)
    if config.mlflow.log_model:
        tracked.log_keras_model(model, test_split.sample_inputs())
