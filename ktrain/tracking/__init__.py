"""MLflow: the run's lifecycle, its params and tags, per-epoch metrics, the files sent while it
trains, a trained run's files found again, and whether a tracking server answers.

This package speaks to MLflow and knows Keras' logs and the files on disk, never a particular
model, data set, config or sweep: it imports nothing of ktrain but ``ktrain.names`` and
``ktrain.errors`` (tests/test_structure.py checks it). What a run records, and when, is the
run's recipe's to say (``ktrain.run``).
"""

import os


def quiet_mlflow_console() -> None:
    """MLflow draws a progress bar for each copy of artifacts, which would fill a run's log and
    a command's console (six for the few small files of a registered model), and prints "View
    run ... at: <url>" as a run on a tracking server ends, beside ktrain's own lines that say
    where the run is. A user's own ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` and
    ``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT`` are kept."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
