"""The names that several packages must spell alike: a run dir's files, MLflow tag keys,
Optuna attributes, the UI address.

A run dir (``outputs/<date>/<time>/``) is written by the run, read back by ``resume=`` and by
``ktrain-predict``, and uploaded to MLflow by ``tracking/``; each of them imports the names
from here, and no tag key or file name is spelt anywhere else. So are the commands' names:
every message that shows a command shows the one the user typed (``command``). This module
imports nothing of ktrain, so the config-only paths may use it.
"""

import os
import sys
from pathlib import Path

# --- the commands ------------------------------------------------------------------------

# How the user runs ktrain, set by a command when it starts ("installed": ktrain-train, ...;
# "clone": python train.py, ...) for the processes it starts (joblib workers, cluster jobs),
# whose own sys.argv names another program.
COMMAND_STYLE_VARIABLE = "KTRAIN_COMMAND_STYLE"


def command(script: str) -> str:
    """The command that runs ``script`` (``train``, ``predict``, ``export``) the way the user
    runs ktrain: ``ktrain-train`` for the installed commands, ``python train.py`` in the clone."""
    style = os.environ.get(COMMAND_STYLE_VARIABLE) or command_style(sys.argv[0])
    return f"ktrain-{script}" if style == "installed" else f"python {script}.py"


def program(script: str) -> str:
    """The program that runs ``script``, as a message names it (``the run id that train.py
    printed``): ``ktrain-train`` for the installed commands, ``train.py`` in the clone."""
    return command(script).removeprefix("python ")


def command_style(program: str) -> str:
    """``installed`` for a program named ``ktrain-*`` (a console script), else ``clone``."""
    return "installed" if Path(program).name.startswith("ktrain-") else "clone"


# --- the run dir -------------------------------------------------------------------------

HYDRA_DIR = ".hydra"  # Hydra's own copy of the config and the command line
SAVED_CONFIG = Path(HYDRA_DIR) / "config.yaml"
SAVED_HYDRA_CONFIG = Path(HYDRA_DIR) / "hydra.yaml"
SAVED_OVERRIDES = Path(HYDRA_DIR) / "overrides.yaml"
RUN_RECORD = "mlflow_run.json"  # the MLflow run id and tracking URI, written when the run starts
BACKUP_DIR = "backup"  # what resume= restores (ktrain.callbacks.RunBackup)
BACKUP_STATE = "state.json"  # in the backup dir: the file that commits an epoch, naming its arrays file
CHECKPOINT_DIR = "checkpoints"
BEST_CHECKPOINT = f"{CHECKPOINT_DIR}/best.keras"
LAST_CHECKPOINT = f"{CHECKPOINT_DIR}/last.keras"
EPOCH_CHECKPOINTS = f"{CHECKPOINT_DIR}/epochs"  # in MLflow, with mlflow.checkpoints=every
UPLOAD_STAGING = ".uploads"  # copies of files on their way to MLflow (ktrain.tracking.uploads)
RUN_LOCK = "run.lock"  # host, pid and heartbeat of the process training the run (ktrain.resume.lock)
SWEEP_RECORD = "mlflow_sweep.json"  # in a sweep dir: the parent MLflow run, written when it starts
MULTIRUN_CONFIG = "multirun.yaml"  # in a sweep dir: Hydra's record of the sweep's config and overrides
FINAL_MODEL = "model.keras"
CLASS_NAMES = "class_names.json"
MODEL_SUMMARY = "model_summary.txt"
SAMPLE_INPUTS = "sample_inputs.npy"  # a few test inputs, raw: what ktrain-export checks each format with
EXPORT_DIR = "export"  # ktrain-export's files: in a run dir, and as the run's artifact folder

# --- MLflow ------------------------------------------------------------------------------

HYDRA_ARTIFACTS = "hydra"  # the run's .hydra/ files, as an artifact folder
BACKUP_ARTIFACTS = "backup"  # the run's latest backup, as resume=<run id> downloads it
LOGGED_MODEL = "model"  # the final model, logged as an MLflow pyfunc model (ktrain.tracking.keras_pyfunc)
LOGGED_MODEL_FILE = f"{LOGGED_MODEL}/artifacts/model.keras"  # its .keras file inside the model's folder
KERAS_FLAVOR_MODEL_FILE = f"{LOGGED_MODEL}/data/model.keras"  # where runs logged with MLflow's Keras flavor keep it
TARGETS = "targets.json"  # the data's targets (kind, classes, columns), which predictions are decoded by
# A LoggedModel's role among a run's models: best, last, epoch (a checkpoint), or final; a
# checkpoint's model names its file among the run's artifacts (ktrain.tracking.logged_models).
CHECKPOINT_TAG = "ktrain.checkpoint"
CHECKPOINT_ARTIFACT_TAG = "ktrain.checkpoint.artifact"
MONITOR_TAG = "ktrain.monitor"  # the metric monitor.metric names: on a run's final model and its registered versions
# A KerasHub preset a run fine-tuned (model=keras_hub): the handle as given, a digest of its files.
PRESET_TAG = "ktrain.preset"
PRESET_DIGEST_TAG = "ktrain.preset.digest"

PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's own: a sweep job's parent
GIT_COMMIT_TAG = "mlflow.source.git.commit"
ERROR_TAG = "ktrain.error"
KILLED_TAG = "ktrain.killed_by"
OVERRIDES_TAG = "ktrain.overrides"
RESUMED_WITH_TAG = "ktrain.resumed_with"
RESUMED_AT_TAG = "ktrain.resumed_at_epoch"
VERSION_TAG = "ktrain.version"
KERAS_VERSION_TAG = "keras.version"
KERAS_BACKEND_TAG = "keras.backend"
TENSORFLOW_VERSION_TAG = "tensorflow.version"  # where TensorFlow is in use
CLUSTER_TAG = "ktrain.cluster"  # a multi-process run's cluster, hashed: its other processes find the run by it
HOLDER_TAG = "ktrain.holder"  # JSON host, pid, heartbeat of the process training the run
JOB_TAG = "ktrain.sweep.job"
SWEEP_TAG_PREFIX = "ktrain.sweep."  # .dir, .sweeper, .launcher on a sweep's parent run
BEST_TAG_PREFIX = "ktrain.best_"  # .run_id, .job, .overrides on a sweep's parent run
# A pruned Optuna trial: the epochs it trained, as its run's tag and as the trial's user attribute
# (through which its sweeper learns that it was pruned, wherever the job ran).
PRUNED_AT_TAG = "ktrain.pruned_at_epoch"
PRUNED_AT_ATTR = "ktrain.pruned_at_epoch"
SEARCH_RESULTS = "optimization_results.yaml"  # the Optuna sweeper's results, in the sweep dir
OPTUNA_STUDY_TAG = "ktrain.optuna.study"  # on a search's parent run: its study and storage
OPTUNA_STORAGE_TAG = "ktrain.optuna.storage"
# The study's user attribute that holds the pruner's config: a job, in whatever process or
# machine it runs, builds the same pruner from it (Optuna keeps no pruner in the storage).
PRUNER_ATTR = "ktrain.pruner"
# A trial's user attributes that tie it to its job: the sweep dir and the job number, so that a
# continued sweep (-m resume=) launches its interrupted trials again as the same jobs.
TRIAL_SWEEP_DIR_ATTR = "ktrain.sweep.dir"
TRIAL_JOB_ATTR = "ktrain.sweep.job"

# The address `mlflow ui` serves on by default.
LOCAL_UI = "http://127.0.0.1:5000"
