"""Data modules: each loads one kind of data, reports its ``DataSpec`` and hands out splits.

A data module knows nothing of Hydra or MLflow; from a notebook::

    from ktrain.data.arrays import DigitsData
    data = DigitsData(batch_size=32)
    data.spec.num_classes            # 10
    model.fit(**data.split("train").fit_args(), validation_data=data.split("val").validation_data())

Image data arrive as float32 pixel values in [0, 255], whatever their source: scaling and
normalisation belong to the model (see ``model.preprocessing``), so a saved model takes the
same raw pixels at prediction time.

A data module of a user's own fits ``ktrain.contracts.DataModule``. ``arrays``, ``splits``,
``folders`` and ``checked_files`` import no TensorFlow (``folders`` is read by the schema);
``image_folder`` builds tf.data pipelines. This package imports only ``ktrain.errors`` of ktrain.
"""

from dataclasses import dataclass
from typing import Any

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DataSpec:
    """What the model and the run need to know about a data set."""

    input_shape: tuple[int, ...]
    num_classes: int
    class_names: tuple[str, ...]
    split_sizes: dict[str, int]  # samples in "train", "val" and "test"
    class_counts: tuple[int, ...]  # training samples per class


@dataclass(frozen=True)
class Split:
    """One split in the form Keras' fit and evaluate take.

    Either NumPy arrays ``x`` and ``y`` that Keras batches by ``batch_size``, or a batched
    dataset of ``(x, y)`` pairs in ``x`` alone.
    """

    x: Any
    y: Any = None
    batch_size: int | None = None

    def fit_args(self) -> dict[str, Any]:
        """Keyword arguments for ``Model.fit``, ``evaluate`` or ``predict``."""
        if self.y is None:
            return {"x": self.x}
        return {"x": self.x, "y": self.y, "batch_size": self.batch_size}

    def sample_inputs(self, count: int = 5) -> Any:
        """The inputs of the first ``count`` samples, as NumPy (for model signatures)."""
        if self.y is not None:
            return self.x[:count]
        inputs, _ = next(iter(self.x))
        return inputs[:count].numpy()

    def divisible(self, replicas: int) -> "Split":
        """This split with at most ``replicas - 1`` samples dropped, so that with a batch size
        that is a multiple of ``replicas`` every batch, the last included, divides evenly
        (JAX's data-parallel sharding requires it). Datasets are returned as they are."""
        if self.y is None or replicas <= 1:
            return self
        keep = len(self.y) - len(self.y) % replicas
        return Split(self.x[:keep], self.y[:keep], self.batch_size)

    def share(self, process_id: int, processes: int, batch_size: int) -> "Split":
        """The part of this split that process ``process_id`` of ``processes`` feeds, batched by
        its part of each ``batch_size`` batch: every ``processes``-th sample (arrays cut to an
        equal length for every process, so that all take the same steps), or every
        ``processes``-th sample of a dataset, rebatched."""
        if self.y is None:
            return Split(self.x.unbatch().shard(processes, process_id).batch(batch_size // processes))
        keep = len(self.y) - len(self.y) % processes
        return Split(self.x[process_id:keep:processes], self.y[process_id:keep:processes], batch_size // processes)

    def validation_data(self) -> Any:
        """The ``validation_data`` argument of ``Model.fit``."""
        return self.x if self.y is None else (self.x, self.y)
