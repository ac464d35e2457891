"""One training run, as a recipe: record, data, model, callbacks, fit, evaluate, save.

The only module that wires data, models, callbacks and tracking together (see
docs/design.md); ``ktrain.cli.train`` calls it once the config is valid and the hardware
prepared, since it imports Keras.
"""

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import keras

from ktrain import distribute
from ktrain.cli.config_search import remembered
from ktrain.cli.startup import startup_done
from ktrain.contracts import Strategy, TrackedRun
from ktrain.models import custom_objects
from ktrain.names import CLUSTER_TAG, FINAL_MODEL, MONITOR_TAG, RESUMED_AT_TAG
from ktrain.resume.holder import holding
from ktrain.run import autotune, feeding, fine_tune, fitting, lr_find, outputs
from ktrain.run.callback_plan import RunCallbacks, Slot, plan_callbacks
from ktrain.run.lineage import lineages
from ktrain.run.provenance import preset_record, run_tags
from ktrain.run.steps import LoadedData, load_data
from ktrain.schema import TrainConfig
from ktrain.sweeps.search.trial import tag_if_pruned
from ktrain.tracking.run import MlflowRun, UnrecordedRun, ui_hint
from ktrain.tracking.system_metrics import PeerSystemMetrics

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
    cluster, m = distribute.cluster_key(config.hardware), config.mlflow
    node_id = distribute.process_name(config.hardware) if cluster else None
    if not record:
        peer = PeerSystemMetrics(m.tracking_uri, m.experiment_name, cluster, node_id, resumed_run_id)
        return _recipe(config, strategy, UnrecordedRun(peer if m.system_metrics else None), run_dir, restore)
    tags = {**run_tags(config.paths.root_dir, resumed=restore), **(job.tags if job else {})}
    tracked = MlflowRun(
        tracking_uri=config.mlflow.tracking_uri,
        experiment_name=config.mlflow.experiment_name,
        run_dir=run_dir,
        run_name=config.mlflow.run_name or (job.name if job else None),
        tags={**tags, CLUSTER_TAG: cluster} if cluster else tags,
        parent_run_id=job.parent_run_id if job else None,
        run_id=resumed_run_id,
        checkpoints_at_end=config.mlflow.checkpoints == "end",  # else sent as written (RunUploads)
        remember={**remembered(), "fit_epochs": str(config.fit.epochs)},  # what a later resume continues to
        system_metrics=m.system_metrics,
        node_id=node_id,
    )
    register = m.registered_model if job is None or job.sweep is None else None  # a sweep registers its best job's
    with holding(run_dir, config.mlflow.tracking_uri, lambda: tracked.run_id):  # one process per run
        best = _recipe(config, strategy, tracked, run_dir, restore, register)
    log.info("run dir:       %s", run_dir)
    log.info("MLflow run id: %s", tracked.run_id)
    log.info("MLflow UI:     %s", ui_hint(config.mlflow.tracking_uri))
    return best


def clear_keras_session() -> None:
    keras.backend.clear_session()


def _recipe(
    config: TrainConfig,
    strategy: Strategy,
    tracked: TrackedRun,
    run_dir: Path,
    restore: bool,
    register: str | None = None,
) -> float:
    with tracked:
        _record_config(config, tracked)
        data = load_data(config, strategy)
        _record_data(config, data, tracked)
        config, model = autotune.build_tuned(config, data, strategy, tracked, restore)
        _record_model(config, model, data, tracked, run_dir)
        callbacks = plan_callbacks(config, run_dir, tracked.run_id, restore)
        rows = _fit(config, model, data, callbacks, tracked, strategy)
        model_id = _evaluate_and_save(config, model, data, run_dir, rows, tracked)
        best = outputs.best_value(rows, config.monitor.metric, config.monitor.mode)
        tracked.log_metrics({f"best_{config.monitor.metric}": best})
        if register and model_id:
            tracked.register_model(register, model_id, config.mlflow.register_alias, config.monitor.metric, best)
    return best


def _record_config(config: TrainConfig, tracked: TrackedRun) -> None:
    tracked.log_params(config.values())
    tracked.log_params(config.chosen_options())  # model=simple_cnn, ...: the group options
    # Seeded again: starting an MLflow run draws its name from Python's random, and every
    # process of a multi-host run has to draw the same data order and initial weights.
    keras.utils.set_random_seed(config.seed)


def _record_data(config: TrainConfig, data: LoadedData, tracked: TrackedRun) -> None:
    """Each split as an MLflow dataset: where it comes from, its digest, schema and profile."""
    for name, context, found in lineages(config, data.module, data.splits):
        tracked.log_dataset(name, context, found.source, found.digest, found.schema, found.profile)


def _record_model(config: TrainConfig, model: keras.Model, data: LoadedData, tracked: TrackedRun, run_dir: Path):
    spec = data.module.spec
    preset_params, preset_tags = preset_record(config)
    if preset_tags:
        tracked.set_tags(preset_tags)
    tracked.log_params(
        {
            "model.parameter_count": model.count_params(),
            "data.class_count": spec.num_classes,
            "data.input_shape": list(spec.input_shape) if spec.input_shape is not None else spec.inputs,
            **{f"data.{split}_size": size for split, size in spec.split_sizes.items()},
            **{f"data.found.{key}": value for key, value in spec.facts.items()},
            **outputs.target_params(spec.targets),
            **preset_params,
        }
    )
    for path in outputs.write_model_files(model, spec.targets, run_dir):
        tracked.log_artifact(path)


def _fit(
    config: TrainConfig, model: keras.Model, data: LoadedData, callbacks: RunCallbacks, tracked: TrackedRun, strategy
) -> list[dict]:
    """``model.fit`` with the run's callbacks, continuing a restored backup (in two phases with
    ``fine_tune``); return the rows of every epoch."""
    multi_worker = config.hardware.strategy == "multi_worker"
    splits = feeding.fit_splits(data.splits, config.fit.shuffle, config.seed, multi_worker)
    backup = callbacks.backup
    arguments = fitting.fit_arguments(config.fit, data.module.spec, backup, splits, data.steps)
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
            targets = data.module.spec.targets
            fine_tune.fit_in_phases(model, config, targets, fit, arguments, backup, configured, strategy)
    finally:
        callbacks.close()
    tag_if_pruned(tracked, callbacks.pruning)
    return callbacks.epoch_log.rows


def _evaluate_and_save(
    config: TrainConfig, model: keras.Model, data: LoadedData, run_dir: Path, rows: list[dict], tracked: TrackedRun
) -> str | None:
    """Test metrics, the final model, the history files, and the model in MLflow; return its
    LoggedModel's id (None where none is logged)."""
    test_split = data.splits["test"]
    evaluating = {**config.evaluate.values(), "steps": data.steps.test}
    test_metrics = model.evaluate(**test_split.fit_args(), **evaluating, return_dict=True)
    log.info("test: %s", ", ".join(f"{k}={v:.4f}" for k, v in test_metrics.items()))
    model.save(run_dir / FINAL_MODEL)
    sample_inputs = test_split.sample_inputs()
    for path in [*outputs.write_history(rows, run_dir), outputs.write_sample_inputs(sample_inputs, run_dir)]:
        tracked.log_artifact(path)
    model_id = None
    if config.mlflow.log_model:  # a LoggedModel of the last epoch, its test metrics linked to it
        step = int(rows[-1]["epoch"]) if rows else 0
        objects = custom_objects.referenced(keras.saving.serialize_keras_object(model))
        code = custom_objects.source_paths(objects)
        tags = {MONITOR_TAG: config.monitor.metric}
        model_id = tracked.log_keras_model(model, run_dir / FINAL_MODEL, sample_inputs, objects, code, step, tags)
    tracked.log_metrics({f"test_{name}": value for name, value in test_metrics.items()}, model_id=model_id)
    return model_id
