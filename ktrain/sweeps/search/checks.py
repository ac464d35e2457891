"""What is refused before an Optuna search starts, in one paragraph each: a search space that
names an unknown key or holds an empty choice, a storage that cannot be written, and a search
(or its pruner) without ``-m``.

No Optuna, MLflow or TensorFlow here: the sweep callback calls ``check_search`` before it
starts the sweep's MLflow run, so a refused search leaves no run behind and stops in a second.
"""

import itertools
from collections.abc import Iterator

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, OverrideParseException
from omegaconf import DictConfig

from ktrain import overrides as command_line
from ktrain.errors import UserError
from ktrain.names import command
from ktrain.sweeps.search.storage import default_storage, unwritable

SWEEPER = "hydra_plugins.ktrain_optuna_sweeper.ktrain_optuna_sweeper.KtrainOptunaSweeper"
SWEEP_SYNTAX = "choice(a, b), interval(lo, hi), tag(log, interval(lo, hi)) or range(start, stop, step)"


def is_optuna_search(hydra_cfg: DictConfig) -> bool:
    """Whether ``hydra.sweeper`` is ktrain's Optuna sweeper."""
    return hydra_cfg.sweeper.get("_target_") == SWEEPER


def storage_of(config: DictConfig) -> str:
    """``hydra.sweeper.storage``, or the journal file beside the MLflow store."""
    storage = config.hydra.sweeper.storage
    return storage or default_storage(config.mlflow.tracking_uri, config.paths.root_dir)


def check_search(config: DictConfig) -> None:
    """Refuse an Optuna search whose space or storage would fail every trial (a multirun's
    config, ``${hydra:...}`` resolvable)."""
    if not is_optuna_search(config.hydra):
        return
    for overrides in sample_jobs(config):
        try:
            GlobalHydra.instance().config_loader().load_sweep_config(config, overrides)
        except ConfigCompositionException as error:
            from ktrain.cli.hydra_errors import explain  # the schema: only once a search is checked

            reason = explain(error, overrides).removeprefix("Invalid config: ")
            raise UserError(
                f"Invalid search space: a trial with {' '.join(overrides[-len(sweep_space(config)) :])} "
                f"would not compose: {reason} The search space is hydra.sweeper.params and the sweep "
                f"overrides of the command line ({SWEEP_SYNTAX}); each key must be one the config has."
            ) from error
    storage = storage_of(config)
    problem = unwritable(storage)
    if problem:
        raise UserError(
            f"hydra.sweeper.storage={storage} cannot be written: {problem}. The study is stored there "
            "so that the same command continues it; give the path of a journal file in a folder you "
            "can write to (hydra.sweeper.storage=/path/to/optuna.journal), an RDB URL "
            "(sqlite:///optuna.db), or null for optuna.journal beside the MLflow store."
        )


def refuse_without_multirun(hydra_cfg: DictConfig) -> None:
    """A run without ``-m`` whose config selects the Optuna sweeper would train once and search
    (and prune) nothing: refuse it."""
    if not is_optuna_search(hydra_cfg):
        return
    pruner = hydra_cfg.sweeper.get("pruner")
    pruning = f" and its pruner ({pruner['_target_'].rpartition('.')[2]})" if pruner else ""
    raise UserError(
        f"the Optuna sweeper{pruning} needs a sweep, and this command has no -m: it would "
        f"train one run and search nothing. Add -m ({command('train')} -m hparams_search=optuna ...), "
        "or drop hparams_search (and hydra/sweeper, hydra/sweeper/pruner) for a single run."
    )


def sweep_space(config: DictConfig) -> dict[str, list]:
    """The search space's keys, each with the values a check composes: every choice, or an
    interval's or range's first value."""
    params = config.hydra.sweeper.params or {}
    lines = [f"{key}={value}" for key, value in params.items()]
    lines += [o for o in config.hydra.overrides.task]
    parser = OverridesParser.create()
    space: dict[str, list] = {}
    for line in lines:
        try:
            (override,) = parser.parse_overrides([line])
        except OverrideParseException as error:
            reason = " ".join(str(error.__cause__ or error).split())
            raise UserError(
                f"Invalid search space: {line}: {reason}. Give each key of hydra.sweeper.params "
                f"one of {SWEEP_SYNTAX}, with at least one value."
            ) from error
        if override.is_sweep_override():
            values = [str(v) for v in override.sweep_iterator()] if not override.is_interval_sweep() else []
            space[override.get_key_element()] = values or [str(override.value().start)]
    return space


def sample_jobs(config: DictConfig, grid: bool = False) -> Iterator[list[str]]:
    """Jobs' overrides to compose: the first value of every key, then each other choice in
    turn; with ``grid``, then every other combination of the choices."""
    space = sweep_space(config)
    fixed = [o for o in config.hydra.overrides.task if command_line.key_of(o) not in space]
    keys, first = list(space), [values[0] for values in space.values()]
    samples = [first] + [
        [*first[:index], value, *first[index + 1 :]] for index, key in enumerate(keys) for value in space[key][1:]
    ]
    seen = set()
    for values in itertools.chain(samples, itertools.product(*space.values()) if grid else ()):
        if tuple(values) not in seen:
            seen.add(tuple(values))
            yield [*fixed, *(f"{key}={value}" for key, value in zip(keys, values))]
