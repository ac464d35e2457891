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
from ktrain.overrides import key_of
from ktrain.schema import validate
from ktrain.schema.run import group_options
from ktrain.sweeps.search.checks import sample_jobs

# Jobs composed before the check gives up and lets the sweep run (each is about 0.1 s).
MAX_CHECKED = 64


def check_jobs(config: DictConfig) -> None:
    """``UserError`` if every job of the multirun ``config`` is refused by validation, with
    the first job's refusal."""
    loader = GlobalHydra.instance().config_loader()
    _compose_each_swept_option(loader, config)
    first_refusal, checked = None, 0
    for overrides in sample_jobs(config, grid=True):
        job = _composed(loader, config, overrides)
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


def _compose_each_swept_option(loader, config: DictConfig) -> None:
    """Compose a job of each value of a swept group (``-m model=mlp,resnet51``): Hydra finds an
    option that is not there only when its job starts, after the jobs before it have trained.
    Jobs that vary a plain key compose alike, and are left to the check of values."""
    from ktrain.cli.config_search import config_dirs  # where the groups are: only for a sweep

    groups = {folder.name for root in config_dirs() for folder in root.iterdir() if folder.is_dir()}
    samples = list(sample_jobs(config))  # the first job, then one per other value of each key
    for overrides in samples[1:]:
        varied = [(key_of(o) or "").lstrip("+") for o in overrides if o not in samples[0]]
        if any(key in groups for key in varied):
            _composed(loader, config, overrides)


def _composed(loader, config: DictConfig, overrides: list[str]) -> DictConfig:
    try:
        return loader.load_sweep_config(config, overrides)
    except HydraException as error:  # Hydra would warn that the callback raised, and go on
        from ktrain.cli.hydra_errors import explain  # the schema: only once a job does not compose

        raise UserError(explain(error, overrides)) from error
