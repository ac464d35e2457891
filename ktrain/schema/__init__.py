"""The config schema: every key a run reads, its type and its allowed values.

``validate`` runs right after Hydra composes the config and before TensorFlow is imported,
so a typo or a bad value stops a run in well under a second, with one paragraph that names
the key, the bad value and what is allowed. It returns the typed, frozen ``TrainConfig`` that
the run reads from then on; no ``DictConfig`` goes further. Group options are checked by the
schema of their ``_target_`` (``groups.py``, ``callbacks.py``), and the keys of ``fit``,
``compile`` and of every node built by a Keras class by the installed Keras' signatures
(``keywords.py``); a target neither knows (a user's own model, optimizer or callback) only
needs ``_target_`` and takes any keyword arguments. Rules across keys are in ``rules.py``,
every value derived from the config (the rules' changes among them) in ``derive.py``, the
wording of problems in ``messages.py``.

This package imports no TensorFlow, Keras or MLflow; it may import ``ktrain.data.folders`` and
``ktrain.models`` (the lists they check against), ``ktrain.overrides``, ``names`` and ``errors``.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ktrain.errors import ConfigError
from ktrain.schema import derive, keywords, rules
from ktrain.schema.base import Targeted
from ktrain.schema.groups import GROUPS
from ktrain.schema.messages import paragraph, problems, schema_of
from ktrain.schema.run import ExportConfig, Hardware, PredictConfig, TrainConfig, group_options

__all__ = [
    "ConfigError",
    "ExportConfig",
    "Hardware",
    "PredictConfig",
    "TrainConfig",
    "validate",
    "validate_export",
    "validate_predict",
]


def validate(cfg: DictConfig, overrides: Sequence[str] = (), choices: Mapping[str, str] | None = None) -> TrainConfig:
    """Check a composed training config; return it typed and frozen, with the rules' changes
    made (``derive.rules_applied``).

    ``overrides`` are the ones given on the command line (Hydra's task overrides), which
    some rules read (``rules.py``); ``choices`` the option of each group (default: Hydra's
    record of the running job). Raises ``ConfigError`` with every problem found, in one
    paragraph.
    """
    values = _resolve(cfg)
    found = problems(TrainConfig, _groups_checked_apart(values), prefix="")
    for group in GROUPS:
        node = values.get(group)
        if isinstance(node, dict):
            found += problems(schema_of(group, node), node, prefix=group)
    callbacks = values.get("callbacks")
    for name, node in callbacks.items() if isinstance(callbacks, dict) else ():
        if isinstance(node, dict):
            found += problems(schema_of("callbacks", node), node, prefix=f"callbacks.{name}")
    found += keywords.problems(values)
    if found:
        raise ConfigError(paragraph(found))
    config = TrainConfig.make(values, _typed_groups(values), _hydra_choices() if choices is None else choices)
    found = rules.problems(config, overrides)  # rules read a config whose every node is sound
    if found:
        raise ConfigError(paragraph(found))
    return derive.rules_applied(config)


def validate_predict(cfg: DictConfig) -> PredictConfig:
    """Check a composed ``predict.py`` config; return it typed."""
    return _validated_flat(PredictConfig, cfg)


def validate_export(cfg: DictConfig) -> ExportConfig:
    """Check a composed ``export.py`` config; return it typed."""
    return _validated_flat(ExportConfig, cfg)


def _validated_flat(schema, cfg: DictConfig):
    """A config of fixed keys, no groups (predict's, export's), checked and typed."""
    values = _resolve(cfg)
    found = problems(schema, values, prefix="")
    if found:
        raise ConfigError(paragraph(found))
    return schema.model_validate(values)


def _groups_checked_apart(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` for the top-level check: each group's mapping stands in as a bare node, since
    its own schema (by its ``_target_``) checks it; a group that is no mapping stays, and is
    refused by the top-level schema."""
    apart = dict(values)
    for group in GROUPS:
        if isinstance(values.get(group), dict):
            apart[group] = _CHECKED_APART
    if isinstance(values.get("callbacks"), dict):
        apart["callbacks"] = {
            name: _CHECKED_APART if isinstance(node, dict) else node for name, node in values["callbacks"].items()
        }
    return apart


_CHECKED_APART = Targeted.model_construct(target="")


def _typed_groups(values: dict[str, Any]) -> dict[str, Any]:
    """Each group's node as its target's schema reads it (the schema has passed them all)."""
    nodes: dict[str, Any] = {group: schema_of(group, values[group]).model_validate(values[group]) for group in GROUPS}
    nodes["callbacks"] = {
        name: None if node is None else schema_of("callbacks", node).model_validate(node)
        for name, node in values["callbacks"].items()
    }
    return nodes


def _hydra_choices() -> dict[str, str]:
    """The option Hydra chose in each group of the running job ({} outside one)."""
    return group_options(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}


def _resolve(cfg: DictConfig) -> dict[str, Any]:
    try:
        values = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or "the config"
        raise ConfigError(f"Invalid config: {key} cannot be resolved: {error.msg}") from error
    return _drop_missing(values)


def _drop_missing(node: Any) -> Any:
    """Remove ``???`` values so that the schema reports them as required keys."""
    if isinstance(node, dict):
        return {k: _drop_missing(v) for k, v in node.items() if v != "???"}
    return node
