"""Hyperparameter search with Optuna: the sweeper's side (``sweeper``, ``space``, ``study``,
``results``), the checks made before a search starts (``checks``, no Optuna), and a job's side
(``trial``: report every epoch, stop when pruned).

The Hydra plugin that selects the sweeper is ``hydra_plugins/ktrain_optuna_sweeper``.
"""
