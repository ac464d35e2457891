"""Config keys checked against the keyword arguments of the installed Keras.

``fit``, ``compile`` and ``evaluate`` take every keyword argument of ``keras.Model.fit``,
``keras.Model.compile`` and ``keras.Model.evaluate``, and a node whose ``_target_`` is a Keras class (``optimizer``,
``callbacks.<name>``, a ``{_target_: ...}`` loss or metric) every one of that class, whether
or not ktrain's schema types it: the names come from ``keras_signatures.json``, so a new
Keras argument needs no change here. Any other key is refused with the nearest valid name,
and an argument that ktrain passes itself with where ktrain takes it from.
"""

import difflib
from collections.abc import Iterator
from typing import Any

from ktrain.schema.keras_signatures import Signature, signature

# The top-level sections of train.yaml that are the keyword arguments of a Model method.
METHODS = {"fit": "keras.Model.fit", "compile": "keras.Model.compile", "evaluate": "keras.Model.evaluate"}

# Arguments that ktrain gives Model.fit and Model.compile itself, and where it takes them from.
SUPPLIED = {
    "fit.x": "the train split of the data group (data=...)",
    "fit.y": "the train split of the data group (data=...)",
    "fit.batch_size": "data.batch_size",
    "fit.validation_data": "the val split of the data group (its size: data.val_fraction)",
    # Keras ignores validation_split beside the validation_data ktrain gives.
    "fit.validation_split": "data.val_fraction, as validation_data",
    "fit.callbacks": "callbacks.* (add one: +callbacks.<name>._target_=keras.callbacks.<Class>)",
    "compile.optimizer": "the optimizer group (optimizer=adam, optimizer.learning_rate=...)",
    "evaluate.x": "the test split of the data group (data=...)",
    "evaluate.y": "the test split of the data group (data=...)",
    "evaluate.batch_size": "data.batch_size",
    "evaluate.callbacks": "nothing: the test split is evaluated once, without callbacks",
    "evaluate.return_dict": "itself: the test metrics are recorded by name",
}


def accepted(path: str, node: Any) -> Signature | None:
    """What the node at dotted ``path`` takes by Keras' signature, without the arguments that
    ktrain passes itself; None where no Keras signature applies (a target ktrain or the user
    wrote, a plain section)."""
    found = _signature_of(path, node)
    if found is None:
        return None
    _, keras = found
    keywords = tuple(name for name in keras.keywords if f"{path}.{name}" not in SUPPLIED)
    return Signature(keywords, keras.any_keyword)


def problems(values: dict[str, Any]) -> list[str]:
    """Every key of the config that its node's Keras signature refuses, one phrase each."""
    return [problem for path, node in _nodes(values) for problem in _node_problems(path, node)]


def supplied(key: str) -> str | None:
    """The phrase refusing ``key`` (dotted) if ktrain passes that argument itself, else None."""
    if key not in SUPPLIED:
        return None
    section, _, name = key.partition(".")
    return f"{key} cannot be set: ktrain gives {METHODS[section]} its {name} itself, from {SUPPLIED[key]}"


def suggestion(name: str, allowed: list[str] | tuple[str, ...]) -> str | None:
    """The allowed name nearest to ``name`` (a typo's likely intent), if one is close."""
    close = difflib.get_close_matches(name, allowed, n=1)
    return close[0] if close else None


def _signature_of(path: str, node: Any) -> tuple[str, Signature] | None:
    """The Keras target of the node at ``path`` and its signature, if the file has it."""
    if not isinstance(node, dict):
        return None
    target = METHODS.get(path) or node.get("_target_")
    found = signature(target) if isinstance(target, str) else None
    return (target, found) if found is not None else None


def _nodes(node: Any, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping in ``node`` with its dotted path (list items by index), outermost first."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            yield path, value
        yield from _nodes(value, path)


def _node_problems(path: str, node: dict[str, Any]) -> list[str]:
    found = _signature_of(path, node)
    if found is None:
        return []
    target, keras = found
    allowed = accepted(path, node).keywords
    phrases = []
    for key in node:
        if key.startswith("_") and key.endswith("_"):  # instantiate's own: _target_, _partial_, ...
            continue
        refused = supplied(f"{path}.{key}")
        if refused:
            phrases.append(refused)
        elif key not in keras.keywords and not keras.any_keyword:
            near = suggestion(key, allowed)
            hint = f"did you mean {near}?" if near else f"it takes: {', '.join(allowed)}"
            phrases.append(f"{path}.{key} is not a keyword argument of {target} ({hint})")
    return phrases
