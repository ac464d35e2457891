"""Turning a nested config into MLflow params."""

from typing import Any


def flatten(node: Any, prefix: str = "") -> dict[str, str]:
    """``{"optimizer": {"learning_rate": 0.001}}`` -> ``{"optimizer.learning_rate": "0.001"}``.

    Lists stay one value (``[32, 64]``): they are one setting, not numbered keys.
    """
    if not isinstance(node, dict):
        return {prefix: str(node)}
    if not node:
        return {prefix: "{}"} if prefix else {}
    flat: dict[str, str] = {}
    for key, value in node.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat
