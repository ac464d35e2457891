"""ktrain: Hydra-composed, MLflow-tracked Keras 3 training runs.

Importing ktrain is cheap: TensorFlow, Keras and MLflow are imported by the modules that
need them, so config-only paths (``--help``, ``--cfg job``, validation) stay fast.
"""

__version__ = "0.1.0"
