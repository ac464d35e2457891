"""A search space in Hydra's sweep syntax, as Optuna distributions.

``choice(a, b)`` is categorical; ``interval(lo, hi)`` uniform (integers if both ends are),
``tag(log, interval(lo, hi))`` log-uniform; ``range(start, stop, step)`` the integers (or
stepped floats) Hydra's range yields, ordered, so that TPE can tell neighbours apart. A key set
to a plain value is fixed for every trial.
"""

from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from ktrain import overrides as command_line
from ktrain.errors import UserError


def search_space(params: dict[str, str] | None, arguments: list[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
    """The distributions of ``hydra.sweeper.params`` and of the command line's sweep overrides
    (which win), and the other overrides, which every trial keeps."""
    parser = OverridesParser.create()
    from_config = [f"{key}={value}" for key, value in (params or {}).items()]
    space: dict[str, BaseDistribution] = {}
    fixed = []
    for override in parser.parse_overrides(from_config) + parser.parse_overrides(arguments):
        key = override.get_key_element()
        if override.is_sweep_override():
            space[key] = distribution(override)
            fixed = [f for f in fixed if command_line.key_of(f) != key]
        else:
            space.pop(key, None)
            fixed.append(override.input_line)
    return space, fixed


def distribution(override: Override) -> BaseDistribution:
    """The Optuna distribution of one sweep override."""
    key, value = override.get_key_element(), override.value()
    if override.is_choice_sweep():
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if override.is_interval_sweep():
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log)
        return FloatDistribution(float(value.start), float(value.end), log=log)
    if override.is_range_sweep():
        values = list(override.sweep_iterator())
        if not values:
            raise UserError(f"the search space's {key}={override.get_value_element_as_str()} holds no value")
        if all(isinstance(v, int) for v in values):
            return IntDistribution(min(values), max(values), step=abs(int(value.step)))
        return FloatDistribution(min(values), max(values), step=abs(float(value.step)))
    raise UserError(
        f"the search space's {key}={override.get_value_element_as_str()} is not a sweep the Optuna sweeper "
        "knows; use choice(a, b), interval(lo, hi), tag(log, interval(lo, hi)) or range(start, stop, step)"
    )


def grid(space: dict[str, BaseDistribution]) -> dict[str, list[Any]]:
    """The search space as GridSampler's lists; only choices and ranges are discrete."""
    lists = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            lists[key] = list(dist.choices)
        elif isinstance(dist, IntDistribution) and not dist.log:
            lists[key] = list(range(dist.low, dist.high + 1, dist.step))
        elif isinstance(dist, FloatDistribution) and dist.step is not None:
            count = round((dist.high - dist.low) / dist.step) + 1
            lists[key] = [dist.low + i * dist.step for i in range(count)]
        else:
            raise UserError(
                f"hydra/sweeper/sampler=grid needs a discrete search space, and {key} is an interval; "
                "give it as choice(...) or range(...), or use another sampler (tpe, random, cmaes)"
            )
    return lists


def trial_overrides(params: dict[str, Any], fixed: list[str]) -> list[str]:
    """A job's overrides: the fixed ones, then the trial's values."""
    return [*fixed, *(f"{key}={_value(value)}" for key, value in params.items())]


def _value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return "null" if value is None else str(value)
