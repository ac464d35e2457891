"""Printing the resolved config as a tree, one branch per group, before a run starts."""

from typing import Any

from omegaconf import OmegaConf
from rich.console import Console
from rich.syntax import Syntax
from rich.tree import Tree

FIRST = ("data", "model", "optimizer", "schedule", "callbacks", "fit", "compile", "hardware")


def print_config_tree(values: dict[str, Any]) -> None:
    tree = Tree("config", guide_style="dim")
    for key in [*[k for k in FIRST if k in values], *[k for k in values if k not in FIRST]]:
        value = values[key]
        text = OmegaConf.to_yaml(value) if isinstance(value, dict | list) else str(value)
        tree.add(key, guide_style="dim").add(Syntax(text.rstrip(), "yaml", background_color="default"))
    console = Console()
    if not console.is_terminal:  # a log file or a pipe: whole values, not cut at 80 columns
        console = Console(width=10_000)
    console.print(tree)
