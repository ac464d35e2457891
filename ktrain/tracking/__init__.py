"""MLflow: the run's lifecycle, its params and tags, per-epoch metrics, the files sent while it
trains, a trained run's files found again, and whether a tracking server answers.

This package speaks to MLflow and knows Keras' logs and the files on disk, never a particular
model, data set, config or sweep: it imports nothing of ktrain but ``ktrain.names`` and
``ktrain.errors`` (tests/test_structure.py checks it). What a run records, and when, is the
run's recipe's to say (``ktrain.run``).
"""

import os


def without_progress_bars() -> None:
    """MLflow draws a progress bar for each copy of artifacts: they would fill a run's log, and
    a command's console (six for the few small files of a registered model). A user's own
    ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` is kept."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
