"""Predictions of a trained run on new inputs: what ``ktrain-predict`` does once its config is
valid (``ktrain.cli.predict``).

- ``inputs``: the inputs found (image files, folders of them, ``.npy`` arrays) and run through
  the model, read exactly as in training; ``texts``: ``.txt`` files, a folder of them, or a CSV
  column (``column=``), for a model that takes strings;
- ``table``: the model loaded in Keras' safe mode, and its outputs as a table of labels and
  scores, printed or written as CSV.

The model comes from the run dir, or from MLflow by run id (``ktrain.tracking.locate``).
Scaling and normalisation are layers of the model, so nothing else is needed. This package may
import ``ktrain.data`` (images read as in training), ``ktrain.tracking``, ``cli.startup``,
``names`` and ``errors``; Keras and TensorFlow only once the run is found.
"""
