"""Hyperparameter search with Optuna: the sweeper's side (``sweeper``, ``space``, ``study``,
``results``), the checks made before a search starts (``checks``, no Optuna), a job's side
(``trial``: report every epoch, stop when pruned), and the results on the sweep's parent run
(``parent_run``, MLflow, no Optuna).

The Hydra plugin that selects the sweeper is ``hydra_plugins/ktrain_optuna_sweeper``.
"""
