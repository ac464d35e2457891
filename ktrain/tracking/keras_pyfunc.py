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

        if hasattr(model_input, "to_numpy"):  # a DataFrame: its columns are the features
            model_input = model_input.to_numpy()
        if isinstance(model_input, dict):
            model_input = {name: np.asarray(values) for name, values in model_input.items()}
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


mlflow.models.set_model(KerasModel())
