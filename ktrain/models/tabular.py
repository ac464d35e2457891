"""A model for a table's raw columns: ``model=tabular``.

Each column is an input of its name, one raw value per row, and is preprocessed by stock Keras
layers adapted on a sample of the training rows (``Column.sample``), inside the model: so the
saved model, ``ktrain-predict input=new.csv`` and the served MLflow model take raw rows, with
nothing to run beside them.

- ``number``: ``Normalization``; a missing value (NaN) becomes the column's mean (0 once
  normalised), and, where the training rows miss some, a 0/1 "missing" feature beside it;
- ``category``: ``StringLookup`` one-hot over the ``max_categories`` most frequent values, and
  one slot for any other (a value never seen, rarer, or missing);
- ``text``: ``TextVectorization`` multi-hot over the ``text_tokens`` most frequent words.

``keras.utils.FeatureSpace`` builds the first two, but its inputs, shaped (1,), give
``TextVectorization`` a rank-3 output its concatenation refuses (Keras 3.15), and a NaN passes
its ``Normalization`` into the loss: hence these layers of our own choosing. The NaN test is
``keras.ops`` on the symbolic inputs, which a saved model keeps and loads in safe mode (a
``Lambda`` would not load). Strings need the TensorFlow backend.
"""

import re
from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from ktrain.errors import UserError
from ktrain.models.layers import task_heads
from ktrain.tasks import Target


def tabular(
    columns: Sequence,
    targets: Sequence[Target],
    hidden_units: Sequence[int] = (128, 64),
    dropout: float = 0.1,
    max_categories: int = 100,
    text_tokens: int = 2000,
) -> keras.Model:
    """Each column preprocessed (``encoded_columns``), Dense layers over them all, and the head
    of each target."""
    if not columns:
        raise UserError(
            "model=tabular takes a table's columns (data=table); these data hand out arrays: use model=mlp "
            "or simple_cnn."
        )
    inputs, x = encoded_columns(columns, max_categories, text_tokens)
    for units in hidden_units:
        x = layers.Dense(units, activation="relu")(x)
        x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, task_heads(x, targets), name="tabular")


def encoded_columns(columns: Sequence, max_categories: int = 100, text_tokens: int = 2000):
    """The model's inputs (column name -> ``keras.Input`` of one value per row) and the
    features they make, joined: each column (a ``ktrain.data.Column``: its name, kind and
    sample) through the layers of its kind, adapted on its sample."""
    inputs, encoded = {}, []
    for index, column in enumerate(columns):
        name = f"{_layer_name(column.name)}_{index}"
        if column.kind == "number":
            inputs[column.name] = keras.Input((1,), dtype="float32", name=column.name)
            encoded += _number(inputs[column.name], column, name)
            continue
        inputs[column.name] = keras.Input((1,), dtype="string", name=column.name)
        if column.kind == "category":
            lookup = layers.StringLookup(max_tokens=max_categories + 1, output_mode="one_hot", name=f"{name}_lookup")
            # Not on "" (missing): Keras saves a vocabulary a line per token, and loads it without
            # the empty one (Keras 3.15), so a missing value shares the slot of unseen values.
            lookup.adapt(_present(column.sample))
            encoded.append(lookup(inputs[column.name]))
        else:
            vectorize = layers.TextVectorization(max_tokens=text_tokens, output_mode="multi_hot", name=f"{name}_words")
            vectorize.adapt(_present(column.sample))
            words = vectorize(inputs[column.name])
            encoded.append(layers.Reshape((words.shape[-1],), name=f"{name}_bag")(words))
    return inputs, layers.Concatenate(name="features")(encoded) if len(encoded) > 1 else encoded[0]


def _number(entry, column, name: str) -> list:
    """The normalised value, 0 where missing; and a missing-value feature where the sample
    misses some."""
    values = column.sample.astype("float32")
    present = values[~np.isnan(values)]
    normalize = layers.Normalization(name=f"{name}_normalize")
    normalize.adapt(present.reshape(-1, 1) if present.size else np.zeros((1, 1), "float32"))
    scaled = normalize(entry)
    missing = keras.ops.isnan(scaled)
    found = [keras.ops.where(missing, 0.0, scaled)]
    if present.size < values.size:
        found.append(keras.ops.cast(missing, "float32"))
    return found


def _present(values: np.ndarray) -> np.ndarray:
    """A string column's sample without its missing values; a placeholder where all are missing (an
    adapt needs a value)."""
    present = values[values != ""].astype(object)
    return present if present.size else np.array(["[missing]"], dtype=object)


def _layer_name(column: str) -> str:
    """A layer name made of the column's: letters, digits, _ . and - only (its place in the
    table makes it unique)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", column) or "column"
