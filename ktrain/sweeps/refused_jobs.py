"""A sweep whose every job validation would refuse is refused once, before its parent run
exists, instead of leaving a parent and a FAILED child per job behind (``fit.epochs=-1``
beside a swept key, or a swept key none of whose values is allowed).

The sweep callback calls ``check_jobs`` before it starts the parent run. Jobs are composed as
the sweeper composes them (Hydra's config loader) and validated as the run validates them
(``ktrain.schema.validate``), no TensorFlow or MLflow: the first value of every swept key,
then each other value in turn, then the rest of the grid, until one job passes (a sound sweep
costs one composition, about 0.1 s) or ``MAX_CHECKED`` have been refused. An interval of an
Optuna search is tried at its lower end.
"""

from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig, open_dict

from ktrain.errors import ConfigError, UserError
from ktrain.schema import validate
from ktrain.schema.run import group_options
from ktrain.sweeps.search.checks import sample_jobs

# Jobs composed before the check gives up and lets the sweep run (each is about 0.1 s).
MAX_CHECKED = 64


def check_jobs(config: DictConfig) -> None:
    """``UserError`` if every job of the multirun ``config`` is refused by validation, with
    the first job's refusal."""
    loader = GlobalHydra.instance().config_loader()
    first_refusal, checked = None, 0
    for overrides in sample_jobs(config, grid=True):
        try:
            job = loader.load_sweep_config(config, overrides)
        except HydraException as error:  # Hydra would warn that the callback raised, and go on
            from ktrain.cli.hydra_errors import explain  # the schema: only once a job does not compose

            raise UserError(explain(error, overrides)) from error
        choices = group_options(job.hydra.runtime.choices)
        with open_dict(job):  # as the job's task gets it: no hydra node, its dir set
            del job["hydra"]
            job.paths.output_dir = str(config.hydra.sweep.dir)
        try:
            validate(job, overrides, choices)
            return
        except ConfigError as error:
            first_refusal = first_refusal or str(error)
        checked += 1
        if checked >= MAX_CHECKED:
            return
    if first_refusal is None:
        return
    raise UserError(
        f"every job of this sweep would be refused ({checked} checked), so none was started and no "
        f"MLflow run was made. The first job's refusal: {first_refusal.removeprefix('Invalid config: ')} "
        "Fix the fixed keys of the command line, or give the swept key values it allows."
    )
