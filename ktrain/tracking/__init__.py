"""MLflow tracking: the run's lifecycle, its params and tags, per-epoch metrics, artifacts.

This package knows Keras' logs and the files a run writes, never a particular model or
data set.
"""
