"""A trained run's model in deployment formats: what ``ktrain-export`` does once its config is
valid (``ktrain.cli.export``).

- ``formats``: TensorFlow SavedModel, ONNX and LiteRT, each written by Keras' ``model.export``
  and run in its own runtime; a format that cannot hold a model refused, naming the layer;
- ``exporting``: the model loaded as the run saved it, each format written and checked against
  the Keras model's outputs on the run's sample inputs.

The model comes from the run dir, from MLflow by run id, or from the registry
(``ktrain.tracking.locate``). This package may import ``ktrain.tracking``, ``names`` and
``errors``; Keras, TensorFlow and the converters only once the run is found.
"""
