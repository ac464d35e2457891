"""The logged model's loader: MLflow copies this file into every logged model (a "model from
code") and runs it where the model is loaded, so it imports nothing of ktrain.

It loads the run's ``.keras`` file in Keras' safe mode, without its compile settings (predicting
needs no loss or metric), with the user's own layers imported from the modules the model
carries (``code_paths``), and predicts what the network computes: an array, or a mapping of
output name to array for a model of several outputs.

MLflow's Keras flavor would load the file with its compile settings and no way to import a
user's modules, so a model with a user's layer, loss or metric could not be loaded anywhere
(hence this loader of our own).
"""

import importlib
import json

import mlflow
from mlflow.pyfunc import PythonModel


class KerasModel(PythonModel):
    # Inputs are arrays (or a mapping of them) of the shapes the model's signature gives, which
    # MLflow checks; its checks by type hints have no type for them (and warn where it loads).
    _skip_type_hint_validation = True

    def load_context(self, context):
        import keras

        with open(context.artifacts["custom_objects"]) as file:
            named = json.load(file)
        custom_objects = {}
        for name, path in named.items():
            module, _, attribute = path.partition(":")
            custom_objects[name] = getattr(importlib.import_module(module), attribute)
        self.model = keras.saving.load_model(
            context.artifacts["model"], custom_objects=custom_objects, compile=False, safe_mode=True
        )

    def predict(self, context, model_input, params=None):
        import numpy as np

        if hasattr(model_input, "to_numpy"):  # a DataFrame: a table's rows, or the features
            model_input = _columns(self.model, model_input) or model_input.to_numpy()
        if isinstance(model_input, dict):
            model_input = {name: _tensor(np.asarray(values)) for name, values in model_input.items()}
        elif isinstance(model_input, list | tuple | np.ndarray):
            model_input = _texts(np.asarray(model_input))
        return self.model.predict(model_input, verbose=0)


def _texts(values):
    """Strings (a list, or a DataFrame's one column) as the one string per sample a text model
    takes, str objects (Keras' array adapter takes no fixed-width NumPy strings); other arrays as
    they are."""
    import numpy as np

    if values.dtype.kind not in "OUS":
        return values
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        return values
    return np.asarray([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def _columns(model, frame):
    """A DataFrame's columns as the model's inputs, where it has a column for each input's name
    and each input takes one value per row (a model trained with data=table): strings ("" where
    missing, a whole number without ".0", as a CSV reader gives it) or float32 (NaN where
    missing), shaped (rows, 1). None otherwise. ktrain.data.table_reading reads a file alike;
    this file imports nothing of ktrain, hence its own lines."""
    import numpy as np

    inputs = {tensor.name.split(":")[0]: str(tensor.dtype) for tensor in model.inputs}
    one_value = all(tuple(tensor.shape[1:]) == (1,) for tensor in model.inputs)
    if not one_value or not set(inputs) <= set(frame.columns):
        return None
    return {
        name: (np.array([_text(v) for v in frame[name]], dtype=object) if dtype == "string" else
               frame[name].astype("float32").to_numpy()).reshape(-1, 1)
        for name, dtype in inputs.items()
    }  # fmt: skip


def _tensor(values):
    """Strings as a TensorFlow tensor, which Keras' predict takes (NumPy strings it refuses)."""
    if values.dtype.kind not in "OSU":
        return values
    import tensorflow as tf  # string inputs run on the TensorFlow backend only

    return tf.constant(values.astype(object))


def _text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


mlflow.models.set_model(KerasModel())
