"""Where each split of a run's data comes from (``ktrain.data.Lineage``), as the run records it:
the data module's own account (``lineage(name)``), or, for a module of a user's own that gives
none, one made here from its arrays, or from its config for a source only it can read again."""

import json
from collections.abc import Iterator
from typing import Any

from ktrain.data import Lineage, Split
from ktrain.data.lineage import arrays_digest, arrays_schema, class_profile, digest
from ktrain.schema import TrainConfig

CONTEXTS = {"train": "training", "val": "validation", "test": "testing"}  # MLflow's words for a split's use


def lineages(config: TrainConfig, module, splits: dict[str, Split]) -> Iterator[tuple[str, str, Lineage]]:
    """(name, context, lineage) of each split: ``<data option>-<split>``, MLflow's context."""
    for split, source in splits.items():
        found = module.lineage(split) if hasattr(module, "lineage") else _made(config, module, split, source)
        yield f"{config.option('data')}-{split}", CONTEXTS[split], found


def _made(config: TrainConfig, module, split: str, source: Split) -> Lineage:
    spec = module.spec
    profile: dict[str, Any] = {"rows": spec.split_sizes.get(split)}
    if split == "train":
        profile.update(class_profile(spec.targets))
    if source.arrays:
        return Lineage(
            config.data.target, arrays_digest(source.x, source.y), arrays_schema(source.x, source.y), profile
        )
    # A source that only the module can read again: its config says which data it reads.
    described = json.dumps(config.data.values(), sort_keys=True, default=str)
    return Lineage(config.data.target, digest(described.encode()), {}, profile)
