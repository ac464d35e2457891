"""Continuing a run or a sweep: everything ``resume=`` needs besides the backup itself.

- ``saved_run``: ``resume=<run dir | MLflow run id>`` before Hydra (the run's dir and saved
  config) and inside the job (its MLflow run to reopen, the refusals);
- ``lock`` and ``holder``: one live process per run (``run.lock`` in the run dir, and its
  heartbeat tag in MLflow for a resume from another machine);
- ``interrupts``: Ctrl-C, SIGTERM and a scheduler's signal end a run KILLED, with the command
  that continues it.

The per-epoch backup a resume restores is a Keras callback, ``ktrain.callbacks.RunBackup``; a
sweep's continuation (``-m resume=``) is ``ktrain.sweeps.continued``. This package imports no
TensorFlow or Keras: a resume is checked before Hydra runs. It may import ``ktrain.tracking``
(MLflow, once a run id is given), ``ktrain.schema``, ``ktrain.cli.config_search`` (a run's own
config folder, found again), ``overrides``, ``names`` and ``errors``.
"""

from ktrain.resume.saved_run import Resumed, check_run_dir, hydra_args, is_run_id, load

__all__ = ["Resumed", "check_run_dir", "hydra_args", "is_run_id", "load"]
