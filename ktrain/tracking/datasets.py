"""A run's data as MLflow datasets (``mlflow.log_input``): each split with its source, digest,
schema and profile, so that the UI's "Datasets used" tells two runs' data apart.

MLflow's ``MetaDataset`` holds a source, a digest and a schema but no profile, and its other
datasets hold the data themselves (a table or an array); ``SplitDataset`` is a ``MetaDataset``
with a profile, hence a class of our own.
"""

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from mlflow.data.meta_dataset import MetaDataset
from mlflow.types import Schema, TensorSpec

# MLflow registers its local files' source twice (for paths and for file:// URIs), then warns,
# on every run whose data is a file or folder, that a path "can be interpreted in multiple
# ways" (the two classes have the same name, and either gives the same source).
warnings.filterwarnings(
    "ignore",
    message="The specified dataset source can be interpreted in multiple ways: LocalArtifactDatasetSource, "
    r"LocalArtifactDatasetSource\.",
)


class SplitDataset(MetaDataset):
    """One split of a run's data: its name, source, digest, schema and profile."""

    def __init__(self, source, name: str, digest: str, schema: Schema | None, profile: dict[str, Any]):
        self._profile = profile
        super().__init__(source=source, name=name, digest=digest, schema=schema)

    @property
    def profile(self) -> dict[str, Any]:
        return self._profile

    def to_dict(self) -> dict[str, str]:
        config = super().to_dict()
        config["profile"] = json.dumps(self._profile, default=str)
        return config


def split_dataset(name: str, source: str, digest: str, schema: dict, profile: dict) -> SplitDataset:
    """The dataset of a split described by a data module's lineage (``ktrain.data.Lineage``'s
    fields): a path or URI source where it is one, else the code that made the data."""
    return SplitDataset(_source(source), name, digest, _schema(schema), profile)


def _source(source: str):
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import resolve_dataset_source

    if "://" in source or Path(source).expanduser().exists():
        return resolve_dataset_source(source)
    return CodeDatasetSource(tags={"ktrain.data.target": source})  # data made in code: a module's _target_


def _schema(schema: dict[str, tuple[str, tuple]]) -> Schema | None:
    if not schema:
        return None
    specs = [
        TensorSpec(np.dtype(dtype), (-1, *(-1 if n is None else n for n in shape)), name)
        for name, (dtype, shape) in schema.items()
    ]
    return Schema(specs)
