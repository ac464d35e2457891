"""One training run, as a recipe: record, data, model, callbacks, fit, evaluate, save.

The only module that wires data, models, callbacks and tracking together (see
docs/design.md); ``ktrain.cli.train`` calls it once the config is valid and the hardware
prepared, since it imports Keras.
"""

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import keras

from ktrain.cli.startup import startup_done
from ktrain.contracts import Strategy, TrackedRun
from ktrain.names import FINAL_MODEL, RESUMED_AT_TAG
from ktrain.resume.holder import holding
from ktrain.run import autotune, feeding, fine_tune, fitting, lr_find, outputs
from ktrain.run.callback_plan import RunCallbacks, Slot, plan_callbacks
from ktrain.run.provenance import run_tags
from ktrain.run.steps import LoadedData, load_data
from ktrain.schema import TrainConfig
from ktrain.sweeps.search.trial import tag_if_pruned
from ktrain.tracking.run import MlflowRun, UnrecordedRun, ui_hint

if TYPE_CHECKING:
    from ktrain.sweeps.job import SweepJob

log = logging.getLogger(__name__)


def train(
    config: TrainConfig, strategy: Strategy, job: "SweepJob | None", resumed_run_id: str | None, record: bool = True
) -> float:
    """Train and, if ``record``, record the run; return the best value of ``monitor.metric``
    (``lr_find=true``: run the LR range test alone, and return its suggestion)."""
    if config.lr_find:
        return lr_find.find(config, strategy)
    if config.optimizer.learning_rate == "auto":
        config = lr_find.with_suggestion(config, strategy)
    run_dir = Path(config.paths.output_dir)
    restore = resumed_run_id is not None
    if not record:
        return _recipe(config, strategy, UnrecordedRun(), run_dir, restore)
    tracked = MlflowRun(
        tracking_uri=config.mlflow.tracking_uri,
        experiment_name=config.mlflow.experiment_name,
        run_dir=run_dir,
        run_name=config.mlflow.run_name or (job.name if job else None),
        tags={**run_tags(config.paths.root_dir, resumed=restore), **(job.tags if job else {})},
        parent_run_id=job.parent_run_id if job else None,
        run_id=resumed_run_id,
        checkpoints_at_end=config.mlflow.checkpoints == "end",  # else sent as written (RunUploads)
    )
    with holding(run_dir, config.mlflow.tracking_uri, lambda: tracked.run_id):  # one process per run
        best = _recipe(config, strategy, tracked, run_dir, restore)
    log.info("run dir:       %s", run_dir)
    log.info("MLflow run id: %s", tracked.run_id)
    log.info("MLflow UI:     %s", ui_hint(config.mlflow.tracking_uri))
    return best


def clear_keras_session() -> None:
    keras.backend.clear_session()


def _recipe(config: TrainConfig, strategy: Strategy, tracked: TrackedRun, run_dir: Path, restore: bool) -> float:
    with tracked:
        _record_config(config, tracked)
        data = load_data(config, strategy)
        config, model = autotune.build_tuned(config, data, strategy, tracked, restore)
        _record_model(model, data, tracked, run_dir)
        callbacks = plan_callbacks(config, run_dir, tracked.run_id, restore)
        rows = _fit(config, model, data, callbacks, tracked, strategy)
        _evaluate_and_save(config, model, data, run_dir, rows, tracked)
        best = outputs.best_value(rows, config.monitor.metric, config.monitor.mode)
        tracked.log_metrics({f"best_{config.monitor.metric}": best})
    return best


def _record_config(config: TrainConfig, tracked: TrackedRun) -> None:
    tracked.log_params(config.values())
    tracked.log_params(config.chosen_options())  # model=simple_cnn, ...: the group options
    # Seeded again: starting an MLflow run draws its name from Python's random, and every
    # process of a multi-host run has to draw the same data order and initial weights.
    keras.utils.set_random_seed(config.seed)


def _record_model(model: keras.Model, data: LoadedData, tracked: TrackedRun, run_dir: Path) -> None:
    spec = data.module.spec
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


def _fit(
    config: TrainConfig, model: keras.Model, data: LoadedData, callbacks: RunCallbacks, tracked: TrackedRun, strategy
) -> list[dict]:
    """``model.fit`` with the run's callbacks, continuing a restored backup (in two phases with
    ``fine_tune``); return the rows of every epoch."""
    multi_worker = config.hardware.strategy == "multi_worker"
    splits = feeding.fit_splits(data.splits, config.fit.shuffle, config.seed, multi_worker)
    backup = callbacks.backup
    shuffle_arrays = splits["train"].y is not None
    arguments = fitting.fit_arguments(config.fit, data.module.spec, backup, shuffle_arrays=shuffle_arrays)
    if backup.state:
        log.info("resume: continuing at epoch %d of %d", arguments["initial_epoch"] + 1, arguments["epochs"])
        tracked.set_tags({RESUMED_AT_TAG: str(arguments["initial_epoch"])})
    startup_done()
    if config.mlflow.log_model:
        tracked.prepare_model_logging()  # while the epochs train

    def fit(**overrides):
        return model.fit(
            **splits["train"].fit_args(),
            validation_data=splits["val"].validation_data(),
            callbacks=callbacks.plan.callbacks(),
            **{**arguments, **overrides},
        )

    try:
        if config.fine_tune is None:
            fit()
        else:
            configured = callbacks.plan.in_slot(Slot.CONFIGURED)
            fine_tune.fit_in_phases(model, config, fit, arguments, backup, configured, strategy)
    finally:
        callbacks.close()
    tag_if_pruned(tracked, callbacks.pruning)
    return callbacks.epoch_log.rows


def _evaluate_and_save(
    config: TrainConfig, model: keras.Model, data: LoadedData, run_dir: Path, rows: list[dict], tracked: TrackedRun
) -> None:
    """Test metrics, the final model, the history files, and the model in MLflow."""
    test_split = data.splits["test"]
    test_metrics = model.evaluate(**test_split.fit_args(), return_dict=True, verbose=0)
    tracked.log_metrics({f"test_{name}": value for name, value in test_metrics.items()})
    log.info("test: %s", ", ".join(f"{k}={v:.4f}" for k, v in test_metrics.items()))
    model.save(run_dir / FINAL_MODEL)
    for path in outputs.write_history(rows, run_dir):
        tracked.log_artifact(path)
    if config.mlflow.log_model:
        tracked.log_keras_model(model, test_split.sample_inputs())
