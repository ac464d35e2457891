"""Sweeps (``train.py -m``): grid sweeps and Optuna searches, their Hydra callbacks, their
summaries, and their continuation.

- ``callback``: the sweep's parent MLflow run, started before the first job and ended with the
  summary (a Hydra callback); ``job``: a job's side, in whatever process or machine it runs;
- ``summary``: a sweep's table and plot, read back from its child runs;
- ``continued``: ``-m resume=<sweep dir | parent run id>`` and each job's earlier run;
- ``stops``: a stop of the sweep's process ends its running jobs KILLED first;
- ``launchers``: a cluster launcher checked before jobs go out (a Hydra callback);
- ``search/``: ktrain's Optuna sweeper (``hydra_plugins/ktrain_optuna_sweeper`` selects it).

This package may import ``ktrain.tracking`` (MLflow), ``ktrain.resume`` (a job that resumes
its run), ``ktrain.schema``, ``ktrain.callbacks`` (the pruning callback), ``overrides``,
``names`` and ``errors``; never the run's recipe, which calls it.
"""
