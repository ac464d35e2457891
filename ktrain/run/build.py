"""Keras objects from config nodes, by ``hydra.utils.instantiate``; a failure is told as the
user's config, in one paragraph that names the key."""

import inspect
import pkgutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate

from ktrain.errors import UserError
from ktrain.names import command
from ktrain.schema import TrainConfig
from ktrain.schema.base import Section
from ktrain.schema.keywords import suggestion
from ktrain.tracking.locate import locate_run

SAVED_MODEL = "ktrain.models.saved.saved"
# Callback keys that name a file or folder, whose parent is made before the callback writes.
PATH_KEYS = ("filepath", "filename", "log_dir")


def build(node: Section | Mapping[str, Any], key: str, **offered: Any) -> Any:
    """``instantiate(node)`` called with each ``offered`` argument that the target's signature
    names (or all, where it takes ``**kwargs``): a builder takes what it needs of what the run
    knows, and nothing else is required of it. The offered objects reach it as they are (Hydra
    would turn a dataclass, a ``Target``, into a mapping). A failure is the user's config,
    reported as one paragraph that names ``key`` (a builder's own ``UserError`` already says what
    is allowed)."""
    node = node.values() if isinstance(node, Section) else dict(node)
    try:
        if not offered:
            return instantiate(node, _convert_="all")
        made = instantiate({**node, "_partial_": True}, _convert_="all")
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        if isinstance(cause, ImportError):
            reason = _import_reason(str(node.get("_target_")), " ".join(str(cause).split()).rstrip("."))
            raise UserError(
                f"{key}._target_={node.get('_target_')} cannot be imported: {reason}. "
                "A _target_ is a dotted path to a class or function on the Python path: ktrain's own, "
                "an installed package's, or one of your modules in the current directory (or beside "
                "the folder --config-dir names)."
            ) from error
        raise _refused(node, key, cause or error) from error
    try:
        return made(**_named_by_target(node, offered))
    except UserError:
        raise
    except Exception as error:
        raise _refused(node, key, error) from error


def _import_reason(target: str, hydras: str) -> str:
    """Python's reason (pkgutil's resolver), with the nearest name where the module lacks the
    one given (``keras.callbacks.TerminateOnNan``: TerminateOnNaN); Hydra's where that imports."""
    try:
        pkgutil.resolve_name(target)
    except AttributeError as error:
        module_name, _, name = target.rpartition(".")
        near = suggestion(name, [n for n in dir(sys.modules.get(module_name)) if not n.startswith("_")])
        return f"{error}" + (f" (did you mean {module_name}.{near}?)" if near else "")
    except (ImportError, ValueError) as error:
        return str(error)
    return hydras


def _refused(node: dict[str, Any], key: str, error: BaseException) -> UserError:
    return UserError(
        f"{key}: {node.get('_target_')} refused its settings: {type(error).__name__}: {error}. Check the "
        f"{key}.* values ({command('train')} --cfg job shows them), or the code of {node.get('_target_')} where it is "
        "your own; the full traceback is in the run's train.log."
    )


def _named_by_target(node: dict[str, Any], offered: dict[str, Any]) -> dict[str, Any]:
    """Of ``offered``, what the callable named by ``node["_target_"]`` takes; all of it where
    its signature cannot be read (Hydra then reports what goes wrong)."""
    if not offered or "_target_" not in node:
        return offered
    try:
        parameters = inspect.signature(get_object(node["_target_"])).parameters.values()
    except (ImportError, AttributeError, ValueError, TypeError):
        return offered
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return offered
    names = {p.name for p in parameters}
    return {name: value for name, value in offered.items() if name in names}


def model_node(config: TrainConfig) -> dict[str, Any]:
    """The model config; for ``model=saved``, a ``from_run`` becomes the ``path`` of that run's
    final model (from its run dir, or downloaded from MLflow into this run's dir)."""
    node = config.model.values()
    if node["_target_"] != SAVED_MODEL:
        return node
    run = node.get("from_run")
    if run is not None:
        downloads = Path(config.paths.output_dir) / "from_run"
        files = locate_run(run, "final", config.mlflow.tracking_uri, downloads, key="model.from_run")
        node["path"] = str(files.model)
    return node


def configured_callbacks(entries: Mapping[str, Section | None]) -> list[keras.callbacks.Callback]:
    """The configured Keras callbacks, in config order; ``null`` entries are left out."""
    callbacks = []
    for name, entry in entries.items():
        if entry is None:
            continue
        for key in PATH_KEYS:
            if entry.get(key) is not None:
                Path(entry[key]).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(build(entry, f"callbacks.{name}"))
    return callbacks
