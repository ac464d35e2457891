"""The names that several modules must spell alike: a run dir's files, MLflow tag keys, the UI.

A run dir (``outputs/<date>/<time>/``) is written by the run, read back by ``resume=`` and by
``predict.py``, and uploaded to MLflow by the tracking code; each of them imports the names
from here. This module imports nothing, so the config-only paths may use it.
"""

from pathlib import Path

# --- the run dir -------------------------------------------------------------------------

HYDRA_DIR = ".hydra"  # Hydra's own copy of the config and the command line
SAVED_CONFIG = Path(HYDRA_DIR) / "config.yaml"
SAVED_HYDRA_CONFIG = Path(HYDRA_DIR) / "hydra.yaml"
SAVED_OVERRIDES = Path(HYDRA_DIR) / "overrides.yaml"
RUN_RECORD = "mlflow_run.json"  # the MLflow run id and tracking URI, written when the run starts
BACKUP_DIR = "backup"  # what resume= restores (ktrain.callbacks.RunBackup)
CHECKPOINT_DIR = "checkpoints"
BEST_CHECKPOINT = f"{CHECKPOINT_DIR}/best.keras"
LAST_CHECKPOINT = f"{CHECKPOINT_DIR}/last.keras"
EPOCH_CHECKPOINTS = f"{CHECKPOINT_DIR}/epochs"  # in MLflow, with mlflow.checkpoints=every
UPLOAD_STAGING = ".uploads"  # copies of files on their way to MLflow (ktrain.tracking.uploads)
RUN_LOCK = "run.lock"  # host, pid and heartbeat of the process training the run (ktrain.run_lock)
SWEEP_RECORD = "mlflow_sweep.json"  # in a sweep dir: the parent MLflow run, written when it starts
MULTIRUN_CONFIG = "multirun.yaml"  # in a sweep dir: Hydra's record of the sweep's config and overrides
FINAL_MODEL = "model.keras"
CLASS_NAMES = "class_names.json"
MODEL_SUMMARY = "model_summary.txt"

# --- MLflow ------------------------------------------------------------------------------

HYDRA_ARTIFACTS = "hydra"  # the run's .hydra/ files, as an artifact folder
BACKUP_ARTIFACTS = "backup"  # the run's latest backup, as resume=<run id> downloads it
LOGGED_MODEL = "model"  # the final model, logged with MLflow's Keras flavor
LOGGED_MODEL_FILE = f"{LOGGED_MODEL}/data/model.keras"  # its .keras file inside the flavor's folder

PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's own: a sweep job's parent
GIT_COMMIT_TAG = "mlflow.source.git.commit"
ERROR_TAG = "ktrain.error"
KILLED_TAG = "ktrain.killed_by"
OVERRIDES_TAG = "ktrain.overrides"
RESUMED_WITH_TAG = "ktrain.resumed_with"
RESUMED_AT_TAG = "ktrain.resumed_at_epoch"
VERSION_TAG = "ktrain.version"
HOLDER_TAG = "ktrain.holder"  # JSON host, pid, heartbeat of the process training the run
JOB_TAG = "ktrain.sweep.job"
SWEEP_TAG_PREFIX = "ktrain.sweep."  # .dir, .sweeper, .launcher on a sweep's parent run
BEST_TAG_PREFIX = "ktrain.best_"  # .run_id, .job, .overrides on a sweep's parent run
# A pruned Optuna trial: the epochs it trained, as its run's tag and as the trial's user attribute
# (through which its sweeper learns that it was pruned, wherever the job ran).
PRUNED_AT_TAG = "ktrain.pruned_at_epoch"
PRUNED_AT_ATTR = "ktrain.pruned_at_epoch"
SEARCH_RESULTS = "optimization_results.yaml"  # the Optuna sweeper's results, in the sweep dir

# The address `mlflow ui` serves on by default.
LOCAL_UI = "http://127.0.0.1:5000"
