"""Data modules: each loads one kind of data, reports its ``DataSpec`` and hands out splits.

A data module knows nothing of Hydra or MLflow; from a notebook::

    from ktrain.data.arrays import DigitsData
    data = DigitsData(batch_size=32)
    data.spec.num_classes            # 10
    model.fit(**data.split("train").fit_args(), validation_data=data.split("val").validation_data())

Image data arrive as float32 pixel values in [0, 255], whatever their source: scaling and
normalisation belong to the model (see ``model.preprocessing``), so a saved model takes the
same raw pixels at prediction time.

A data module declares its targets (``ktrain.tasks.Target``: one of N classes, binary,
multi-label, numbers, masks), and hands out each split in any form Keras' ``fit`` takes:
arrays or dicts of arrays, a ``tf.data.Dataset``, a ``keras.utils.PyDataset``, a grain dataset
or a Python generator (``Split``).

A data module of a user's own fits ``ktrain.contracts.DataModule``; it may tell where each
split comes from (``lineage(name) -> Lineage``), which the run records as an MLflow dataset
(``ktrain.run.lineage`` makes one from the arrays, or from its config, where it does not). ``arrays``, ``splits``,
``folders`` and ``checked_files`` import no TensorFlow (``folders`` is read by the schema);
``image_folder`` and ``text_folder`` build tf.data pipelines. Text arrives as strings, one per
sample (``DataSpec.dtypes``), which the model takes raw (its ``TextVectorization`` or KerasHub
preprocessor inside it). This package imports only ``ktrain.tasks`` and
``ktrain.errors`` of ktrain.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ktrain.errors import UserError
from ktrain.tasks import Target

SPLITS = ("train", "val", "test")
# Kinds whose targets name their classes, so that a data set of one of them has a class count.
CLASSES = ("class", "binary", "multi_label", "mask")


@dataclass(frozen=True)
class DataSpec:
    """What the model and the run need to know about a data set.

    Args:
        input_shape: one sample's input, for a data set of one input.
        inputs: the shape of each named input (dict inputs), instead of ``input_shape``.
        targets: what is predicted, one ``Target`` each (its kind chooses the task).
        split_sizes: the samples in ``train``, ``val`` and ``test``.
        num_classes, class_names, class_counts: a data set of one ``class`` target may give
            these instead of ``targets`` (the training samples per class); for a data set of
            one target that has classes they are read from it.
        facts: what the data module found out, for the run's record (``data.found.<key>``
            params): a guessed target kind, say.
        dtypes: the inputs that are not float32 numbers, by name (None: the one unnamed input):
            ``"string"`` for text, which a model takes raw (``input_dtypes`` gives every input's).
        columns: a table's feature columns (``Column``): its inputs are named after them, one
            value per row each, and the model builds their preprocessing (``model=tabular``).

    Example:

    >>> DataSpec(input_shape=(13,), num_classes=3, class_names=("a", "b", "c"),
    ...          split_sizes={"train": 100, "val": 20, "test": 20}, class_counts=(30, 30, 40))
    >>> DataSpec(inputs={"image": (32, 32, 3), "meta": (4,)}, split_sizes=sizes,
    ...          targets=(Target("kind", "class", classes=("a", "b")), Target("size", "number")))
    """

    input_shape: tuple[int, ...] | None = None
    num_classes: int | None = None
    class_names: tuple[str, ...] = ()
    split_sizes: dict[str, int] = field(default_factory=dict)
    class_counts: tuple[int, ...] = ()
    targets: tuple[Target, ...] = ()
    inputs: dict[str, tuple[int, ...]] | None = None
    facts: dict[str, str] = field(default_factory=dict)
    dtypes: dict[str | None, str] = field(default_factory=dict)
    columns: tuple["Column", ...] = ()

    def __post_init__(self):
        if (self.input_shape is None) == (self.inputs is None):
            raise ValueError("a DataSpec gives input_shape (one input) or inputs (named inputs), one of them")
        if not self.targets:
            if self.num_classes is None:
                raise ValueError("a DataSpec gives its targets, or num_classes for one class target")
            names = self.class_names or tuple(str(c) for c in range(self.num_classes))
            object.__setattr__(self, "targets", (Target("label", "class", (), names, self.class_counts),))
        names = [target.name for target in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"two targets share a name: {names}")
        only = self.targets[0]
        if len(self.targets) == 1 and only.kind in CLASSES:
            object.__setattr__(self, "num_classes", len(only.classes))
            object.__setattr__(self, "class_names", only.classes)
            object.__setattr__(self, "class_counts", only.counts)
        elif self.num_classes is None:
            object.__setattr__(self, "class_names", ())
        if self.input_shape is not None:
            object.__setattr__(self, "input_shape", tuple(self.input_shape))

    @property
    def input_shapes(self) -> dict[str | None, tuple[int, ...]]:
        """Each input's shape by name (``None``: the one unnamed input)."""
        return dict(self.inputs) if self.inputs is not None else {None: self.input_shape}

    @property
    def input_dtypes(self) -> dict[str | None, str]:
        """Each input's dtype by name (``None``: the one unnamed input): float32 unless ``dtypes``
        says otherwise."""
        return {name: self.dtypes.get(name, "float32") for name in self.input_shapes}


@dataclass(frozen=True)
class Column:
    """One feature column of a table, which the model takes as an input of its name, one value
    per row.

    Args:
        name: the column's name, and the model's input's.
        kind: ``number`` (float32, NaN where missing), ``category`` or ``text`` (strings, ""
            where missing).
        sample: the column's values in a bounded random sample of the training rows, which the
            model's preprocessing layers adapt on.

    Example:

    >>> Column("city", "category", np.array(["Oslo", "Lima", ""], dtype=object))
    """

    name: str
    kind: str
    sample: np.ndarray = field(compare=False, repr=False)


@dataclass(frozen=True)
class Lineage:
    """Where one split of a data set comes from, as a run records it (MLflow's datasets): the
    same files give the same ``digest``, and a changed file another.

    Args:
        source: a path or URI, or the data module's ``_target_`` for data made in code.
        digest: a fingerprint of the split's data (16 hex digits).
        schema: each input's and target's name -> (dtype, the shape of one sample).
        profile: counts worth seeing beside it: its rows, the samples of each class.

    Example:

    >>> Lineage("/data/pets", "3f2a9c0d11b8e6a4", {"image": ("float32", (64, 64, 3))}, {"rows": 420})
    """

    source: str
    digest: str
    schema: dict[str, tuple[str, tuple[int | None, ...]]]
    profile: dict[str, Any]


@dataclass(frozen=True)
class Split:
    """One split in the form Keras' ``fit`` and ``evaluate`` take.

    Either arrays ``x`` and ``y`` that Keras batches by ``batch_size`` (NumPy arrays, or dicts
    of them by input and by output name), or a source of ``(x, y)`` batches in ``x`` alone: a
    ``tf.data.Dataset``, a ``keras.utils.PyDataset``, a grain dataset, or a Python generator.
    ``steps`` is the batches of one pass where the data module knows them; an endless source
    (a generator, a repeated dataset) needs them, here or in the config.
    """

    x: Any
    y: Any = None
    batch_size: int | None = None
    steps: int | None = None

    def fit_args(self) -> dict[str, Any]:
        """Keyword arguments for ``Model.fit``, ``evaluate`` or ``predict``."""
        if self.y is None:
            return {"x": self.x}
        return {"x": self.x, "y": self.y, "batch_size": self.batch_size}

    def validation_data(self) -> Any:
        """The ``validation_data`` argument of ``Model.fit``."""
        return self.x if self.y is None else (self.x, self.y)

    @property
    def arrays(self) -> bool:
        return self.y is not None

    def inputs(self) -> Any:
        """The inputs alone, for a layer to adapt on (``TextVectorization``): the arrays ``x``, or a
        ``tf.data.Dataset`` of its input batches; None for other sources."""
        if self.arrays:
            return self.x
        if hasattr(self.x, "element_spec"):  # tf.data
            return self.x.map(lambda inputs, *rest: inputs)
        return None

    @property
    def endless(self) -> bool:
        """Whether one pass over the source never ends by itself: a generator or iterator, a
        dataset of infinite cardinality, a ``PyDataset`` without a length."""
        if self.arrays:
            return False
        if inspect.isgenerator(self.x) or (hasattr(self.x, "__next__") and not hasattr(self.x, "__len__")):
            return True
        cardinality = getattr(self.x, "cardinality", None)
        if callable(cardinality) and hasattr(self.x, "element_spec"):  # a tf.data.Dataset
            return int(cardinality()) == -1  # tf.data.INFINITE_CARDINALITY
        return hasattr(self.x, "num_batches") and self.x.num_batches is None

    def sample_inputs(self, count: int = 5) -> Any:
        """The inputs of the first ``count`` samples, as NumPy (for model signatures), strings
        as ``str`` objects. A generator gives its next batch."""
        if self.arrays:
            return map_arrays(lambda values: values[:count], self.x)
        if hasattr(self.x, "element_spec"):  # tf.data
            inputs = next(iter(self.x))[0]
        elif hasattr(self.x, "__getitem__") and hasattr(self.x, "num_batches"):  # PyDataset
            inputs = self.x[0][0]
        else:
            inputs = next(iter(self.x))[0]
        return map_arrays(lambda values: _text_as_str(np.asarray(values)[:count]), inputs)

    def divisible(self, replicas: int, size: int | None = None, batch_size: int | None = None) -> "Split":
        """This split with at most ``replicas - 1`` samples dropped, so that with a batch size
        that is a multiple of ``replicas`` every batch, the last included, divides evenly
        (JAX's data-parallel sharding requires it, and TensorFlow's MirroredStrategy fails on a
        last batch it splits unevenly): arrays cut, a ``tf.data.Dataset``'s last batch cut (its
        ``size`` samples in batches of ``batch_size`` tell the batches left). Other sources are
        returned as they are."""
        if replicas <= 1:
            return self
        if not self.arrays:
            return self._dataset_divisible(replicas, size, batch_size) if hasattr(self.x, "element_spec") else self
        length = array_length(self.y)
        keep = length - length % replicas
        cut = lambda values: values[:keep]  # noqa: E731
        return Split(map_arrays(cut, self.x), map_arrays(cut, self.y), self.batch_size, self.steps)

    def _dataset_divisible(self, replicas: int, size: int | None, batch_size: int | None) -> "Split":
        import tensorflow as tf  # a tf.data.Dataset's own

        def even(*batch):
            keep = tf.shape(tf.nest.flatten(batch)[0])[0] // replicas * replicas
            return tf.nest.map_structure(lambda values: values[:keep], batch)

        def filled(*batch):
            return tf.shape(tf.nest.flatten(batch)[0])[0] > 0

        dataset = self.x.map(even).filter(filled)
        if size and batch_size:  # a filter loses the count, and Keras would warn at the end of the first epoch
            batches = -(-size // batch_size) - (0 < size % batch_size < replicas)
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
        return Split(dataset, steps=self.steps)

    def share(self, process_id: int, processes: int, batch_size: int) -> "Split":
        """The part of this split that process ``process_id`` of ``processes`` feeds, batched by
        its part of each ``batch_size`` batch: every ``processes``-th sample (arrays cut to an
        equal length for every process, so that all take the same steps), or every
        ``processes``-th sample of a ``tf.data.Dataset``, rebatched."""
        if not self.arrays:
            if not hasattr(self.x, "unbatch"):
                raise UserError(
                    "hardware=multi_host feeds each process its share of arrays or of a tf.data.Dataset; "
                    f"this data module hands out a {type(self.x).__name__}. Hand out arrays or a tf.data.Dataset."
                )
            return Split(self.x.unbatch().shard(processes, process_id).batch(batch_size // processes))
        length = array_length(self.y)
        keep = length - length % processes
        take = lambda values: values[process_id:keep:processes]  # noqa: E731
        return Split(map_arrays(take, self.x), map_arrays(take, self.y), batch_size // processes)


def _text_as_str(values: np.ndarray) -> np.ndarray:
    """Texts as NumPy strings (TensorFlow hands them out as bytes objects), which save without
    pickling and which MLflow's signatures read as strings."""
    if values.dtype == object and values.size and isinstance(values.flat[0], bytes):
        return np.vectorize(lambda text: text.decode("utf-8", "replace"), otypes=[str])(values)
    return values


def map_arrays(function: Callable[[Any], Any], values: Any) -> Any:
    """``function`` applied to each array of ``values``: an array, or a dict, list or tuple of them."""
    if isinstance(values, dict):
        return {key: map_arrays(function, value) for key, value in values.items()}
    if isinstance(values, list | tuple):
        return type(values)(map_arrays(function, value) for value in values)
    return function(values)


def array_length(values: Any) -> int:
    """The samples of an array, or of the first array of a dict, list or tuple of them."""
    if isinstance(values, dict):
        return array_length(next(iter(values.values())))
    if isinstance(values, list | tuple) and values and not np.isscalar(values[0]):
        return array_length(values[0])
    return len(values)
