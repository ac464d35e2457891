"""ktrain's Optuna sweeper, registered like Hydra's own sweepers: ``hydra/sweeper=ktrain_optuna``
(``hparams_search=optuna`` selects it), with ``hydra/sweeper/sampler`` and ``hydra/sweeper/pruner``
options.

Hydra imports every plugin module of every run, even one whose config is refused in a second,
so this one holds only the config schema and a thin ``Sweeper``: Optuna is imported by
``ktrain.sweeps.search.sweeper`` once a sweep starts. Why ktrain has its own sweeper rather than
hydra-optuna-sweeper: README, "Optuna".
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

SAMPLERS = "optuna.samplers."
PRUNERS = "optuna.pruners."


@dataclass
class TPESampler:
    _target_: str = SAMPLERS + "TPESampler"
    seed: int | None = None
    n_startup_trials: int = 10
    multivariate: bool = False


@dataclass
class RandomSampler:
    _target_: str = SAMPLERS + "RandomSampler"
    seed: int | None = None


@dataclass
class CmaEsSampler:
    _target_: str = SAMPLERS + "CmaEsSampler"
    seed: int | None = None
    n_startup_trials: int = 1
    sigma0: float | None = None


@dataclass
class GridSampler:
    """The sweeper gives it the search space, which must then be discrete (choice, range)."""

    _target_: str = SAMPLERS + "GridSampler"
    seed: int | None = None


@dataclass
class MedianPruner:
    """Optuna's median rule; ktrain's warm-up (Optuna's defaults: 5 trials, 0 steps): a step is
    an epoch, and an epoch or two of a run on digits says little of where it ends."""

    _target_: str = PRUNERS + "MedianPruner"
    n_startup_trials: int = 3  # trials that run to the end before any is pruned
    n_warmup_steps: int = 2  # epochs every trial trains before it may be pruned
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class SuccessiveHalvingPruner:
    _target_: str = PRUNERS + "SuccessiveHalvingPruner"
    min_resource: Any = "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPruner:
    _target_: str = PRUNERS + "HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class ThresholdPruner:
    _target_: str = PRUNERS + "ThresholdPruner"
    lower: float | None = None
    upper: float | None = None
    n_warmup_steps: int = 0
    interval_steps: int = 1


@dataclass
class KtrainOptunaSweeperConf:
    """``hydra.sweeper``: README, "Optuna", explains each key."""

    _target_: str = "hydra_plugins.ktrain_optuna_sweeper.ktrain_optuna_sweeper.KtrainOptunaSweeper"
    _recursive_: bool = False  # the sampler and pruner stay configs: a job rebuilds the pruner from its own
    defaults: list[Any] = field(default_factory=lambda: ["_self_", {"sampler": "tpe"}, {"pruner": None}])
    direction: str = "minimize"  # or maximize; hparams_search=optuna takes it from monitor.mode
    study_name: str | None = None  # null: named after the sweep's command line (ktrain.sweeps.search.study)
    storage: str | None = None  # null: a journal file beside the MLflow store; a path, or an RDB URL
    n_trials: int = 20  # new trials asked by this invocation; a continued study keeps its earlier ones
    n_jobs: int = 1  # trials asked for at once; hydra/launcher=joblib runs them in parallel
    sampler: Any = None
    pruner: Any = None  # null: nothing is pruned
    params: dict[str, str] | None = None  # the search space, in Hydra's sweep syntax


class KtrainOptunaSweeper(Sweeper):
    """Hands the sweep to ``ktrain.sweeps.search.sweeper.OptunaSearch`` (which imports Optuna)."""

    def __init__(self, **settings: Any) -> None:
        from ktrain.sweeps.search.sweeper import OptunaSearch

        self.search = OptunaSearch(settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        self.search.sweep(arguments)


_store = ConfigStore.instance()
_store.store(group="hydra/sweeper", name="ktrain_optuna", node=KtrainOptunaSweeperConf, provider="ktrain")
for _name, _node in {"tpe": TPESampler, "random": RandomSampler, "cmaes": CmaEsSampler, "grid": GridSampler}.items():
    _store.store(group="hydra/sweeper/sampler", name=_name, node=_node, provider="ktrain")
for _name, _node in {
    "median": MedianPruner,
    "successive_halving": SuccessiveHalvingPruner,
    "hyperband": HyperbandPruner,
    "threshold": ThresholdPruner,
}.items():
    _store.store(group="hydra/sweeper/pruner", name=_name, node=_node, provider="ktrain")
