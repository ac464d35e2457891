"""Where a run trains: the process's environment and role, the strategy, and the data spread
over replicas and processes.

- ``environment``: what the backend reads at import, set first; whether this process is the
  chief (the one that records the run);
- ``strategy``: devices, memory, precision, seeds and the ``ktrain.contracts.Strategy``
  (TensorFlow's, or ``keras.distribution`` on JAX);
- ``replicas``: the splits made to divide over replicas, or shared among processes;
- ``tf_config`` (multi-worker, TF_CONFIG), ``multi_host`` (jax.distributed), and
  ``keras_multi_worker_fix`` (a narrow workaround for keras-team/keras#20585).

Knows nothing of MLflow or Hydra; imports ``ktrain.schema`` (the ``Hardware`` section),
``ktrain.data`` (the ``Split``) and ``errors``. ``environment``, ``tf_config`` and
``multi_host`` import no TensorFlow or Keras, and neither does importing the package: the
others import the backend inside their functions.
"""

from ktrain.distribute.environment import cluster_key, is_chief, keras_backend, prepare_environment, process_name
from ktrain.distribute.replicas import refuse_indivisible_batch, split_across_replicas
from ktrain.distribute.strategy import KerasDistribution, setup

__all__ = [
    "KerasDistribution",
    "cluster_key",
    "is_chief",
    "keras_backend",
    "prepare_environment",
    "process_name",
    "refuse_indivisible_batch",
    "setup",
    "split_across_replicas",
]
