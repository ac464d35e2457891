"""The config schema: every key a run reads, its type and its allowed values.

``validate`` runs right after Hydra composes the config and before TensorFlow is imported,
so a typo or a bad value stops a run in well under a second, with one paragraph that names
the key, the bad value and what is allowed. It returns the typed ``TrainConfig`` that the run
reads from then on. Group options are checked by the schema of their ``_target_``
(``groups.py``, ``callbacks.py``), and the keys of ``fit``, ``compile`` and of every node built
by a Keras class by the installed Keras' signatures (``keywords.py``); a target neither knows (a
user's own model, optimizer or callback) only needs ``_target_`` and takes any keyword
arguments. Rules across keys are in ``rules.py``, the wording of problems in ``messages.py``.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ktrain.errors import ConfigError
from ktrain.schema import keywords, rules
from ktrain.schema.groups import GROUPS
from ktrain.schema.messages import paragraph, problems, schema_of
from ktrain.schema.run import Hardware, PredictConfig, TrainConfig, group_options

__all__ = ["Hardware", "PredictConfig", "TrainConfig", "validate", "validate_predict"]


def validate(cfg: DictConfig, overrides: Sequence[str] = (), choices: Mapping[str, str] | None = None) -> TrainConfig:
    """Check a composed training config; return it typed, with the rules applied.

    ``overrides`` are the ones given on the command line (Hydra's task overrides), which
    some rules read (``rules.py``); ``choices`` the option of each group (default: Hydra's
    record of the running job). Raises ``ConfigError`` with every problem found, in one
    paragraph.
    """
    values = _resolve(cfg)
    found = problems(TrainConfig, values, prefix="")
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
    config = TrainConfig.make(values, _hydra_choices() if choices is None else choices)
    found = rules.problems(config, overrides)  # rules read a config whose every node is sound
    if found:
        raise ConfigError(paragraph(found))
    rules.apply(config)
    return config


def validate_predict(cfg: DictConfig) -> PredictConfig:
    """Check a composed ``predict.py`` config; return it typed."""
    values = _resolve(cfg)
    found = problems(PredictConfig, values, prefix="")
    if found:
        raise ConfigError(paragraph(found))
    return PredictConfig.model_validate(values)


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
