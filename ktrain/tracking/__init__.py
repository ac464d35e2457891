"""MLflow: the run's lifecycle, its params and tags, per-epoch metrics, the files sent while it
trains, a trained run's files found again, and whether a tracking server answers.

This package speaks to MLflow and knows Keras' logs and the files on disk, never a particular
model, data set, config or sweep: it imports nothing of ktrain but ``ktrain.names`` and
``ktrain.errors`` (tests/test_structure.py checks it). What a run records, and when, is the
run's recipe's to say (``ktrain.run``).
"""
