"""The logged model's signature: what it takes and gives, from a few sample inputs.

A model whose every input is named and holds one value per row takes a table's rows: it is
signed by columns, so that ``mlflow.pyfunc`` and ``mlflow models serve`` take a pandas DataFrame
of raw rows, and ``keras_pyfunc`` hands each column to its input. Every column is required
(missing values in it are the model's to handle); a string column is ``string``, a number
column ``any``: MLflow refuses int64 values for a ``double`` column (all but 0 and 1), and a
number column read by ``pandas.read_csv`` is int64 where it holds whole numbers. Other models
are signed by their tensors; one string per sample by one unnamed string column.
"""

from typing import Any

import numpy as np


def signature(sample_inputs: Any, outputs: Any):
    """The ``ModelSignature`` of a model that gives ``outputs`` for ``sample_inputs``."""
    import pandas as pd
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType

    rows = table_rows(sample_inputs)
    if rows is None:
        return infer_signature(_served_as(sample_inputs), outputs)
    strings = [pd.api.types.is_string_dtype(rows[name]) for name in rows.columns]
    columns = [ColSpec("string" if string else AnyType(), name) for name, string in zip(rows.columns, strings)]
    return ModelSignature(Schema(columns), infer_signature(rows, outputs).outputs)


def table_rows(inputs: Any):
    """``inputs`` as a DataFrame, where they are named arrays of one value per row (numbers as
    float64, strings as ``str``); None otherwise."""
    import pandas as pd

    if not isinstance(inputs, dict) or not inputs:
        return None
    arrays = {name: np.asarray(values) for name, values in inputs.items()}
    if any(values.ndim not in (1, 2) or values.shape[1:] not in ((), (1,)) for values in arrays.values()):
        return None
    columns = {}
    for name, values in arrays.items():
        flat = values.reshape(-1)
        columns[name] = flat.astype(str) if flat.dtype.kind in "OSU" else flat.astype("float64")
    return pd.DataFrame(columns)


def _served_as(sample_inputs):
    """What the logged model's signature says it takes: ``sample_inputs``, or, for one string per
    sample, one unnamed string column, which MLflow takes as a list of strings, a DataFrame of
    one column (of any name) or ``mlflow models serve``'s JSON, and hands the model as a DataFrame."""
    if isinstance(sample_inputs, np.ndarray) and sample_inputs.ndim == 1 and sample_inputs.dtype.kind in "OUS":
        import pandas as pd

        return pd.Series(sample_inputs.astype(str))
    return sample_inputs
