"""A user's own Keras objects in a saved model: found, imported, and loaded with it.

A model whose layers are a user's own classes (registered with
``keras.saving.register_keras_serializable`` or not) loads only where their module is imported
and the classes are handed to Keras (Keras imports only its own packages by itself). The
``.keras`` file names each object's module and class; ``referenced`` reads them, and
``load_model`` imports those modules (from the project folder, which a ktrain command puts on
the path) before it loads. Models are loaded without their compile settings (``compile=False``):
predicting needs no loss or metric, so a user's loss or metric function never has to be found.
"""

import importlib
import json
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

from ktrain.errors import UserError

KERAS_PACKAGES = ("keras", "keras_hub", "keras_cv", "keras_nlp", "builtins")


def referenced(config: Any) -> dict[str, str]:
    """The user's objects a serialized model (``config.json`` of a ``.keras`` file, or
    ``keras.saving.serialize_keras_object(model)``) names: the name Keras looks them up by
    (the registered name, else the class name) -> ``module:ClassName``."""
    found: dict[str, str] = {}
    nodes = [config]
    while nodes:
        node = nodes.pop()
        if isinstance(node, dict):
            module = node.get("module")
            if isinstance(module, str) and "class_name" in node and module.split(".")[0] not in KERAS_PACKAGES:
                found[node.get("registered_name") or node["class_name"]] = f"{module}:{node['class_name']}"
            nodes.extend(node.values())
        elif isinstance(node, list):
            nodes.extend(node)
    return found


def imported(objects: dict[str, str], where: str) -> dict[str, Any]:
    """The objects of ``referenced``, imported; ``UserError`` naming the module that is not
    on the path."""
    found = {}
    for name, path in objects.items():
        module_name, _, attribute = path.partition(":")
        try:
            found[name] = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise UserError(
                f"{where} uses {attribute} from the module {module_name}, which cannot be imported here "
                f"({error}). Run from the project folder that holds {module_name} (or put it on PYTHONPATH)."
            ) from error
    return found


def load_model(path: str | Path, where: str, compile: bool = False, shown: str | None = None):
    """The Keras model in the ``.keras`` file ``path``, in safe mode, with the user's objects it
    names; ``where`` names the setting that gave the path, and ``shown`` the model as the user
    knows it (a download's ``runs:/`` URI), for the refusals."""
    import keras  # only once a model is loaded

    named = f"{where}={shown or str(path)!r}"
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise UserError(f"{named} is not a Keras model file that loads ({error}).") from error
    if not compile:  # a loss or metric of the user's own is not needed, nor imported
        config = {key: value for key, value in config.items() if key != "compile_config"}
    custom_objects = imported(referenced(config), named)
    if str(config.get("module", "")).startswith("keras_hub"):
        from ktrain.models.hub import quiet_pipeline_remarks

        quiet_pipeline_remarks()
    try:
        with warnings.catch_warnings():
            # Uncompiled, a model that compiles itself as it is made (a KerasHub task) has an
            # optimizer of its own defaults, not the saved one: predicting needs neither.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return keras.saving.load_model(path, custom_objects=custom_objects, compile=compile, safe_mode=True)
    except (OSError, ValueError, TypeError) as error:
        raise UserError(f"{named} is not a Keras model file that loads ({error}).") from error


def source_paths(objects: dict[str, str]) -> list[Path]:
    """The files or package folders that hold the modules of ``objects``, where they are a
    project's own (not installed packages): what a logged model carries to load elsewhere."""
    paths = []
    for path in objects.values():
        top = path.partition(":")[0].split(".")[0]
        module = sys.modules.get(top) or importlib.import_module(top)
        file = getattr(module, "__file__", None)
        if file is None or "site-packages" in file or "dist-packages" in file:
            continue
        source = Path(file).parent if Path(file).name == "__init__.py" else Path(file)
        if source not in paths:
            paths.append(source)
    return paths
