"""The commands, and what runs before and around Hydra: ``ktrain-train`` (``train.py``) and
``ktrain-predict`` (``predict.py``).

- ``train``, ``predict``: the entry points, where Hydra's ``DictConfig`` is read and validated;
  nothing past them reads it;
- ``hydra_main``: ``hydra.main`` with a user's config folder, ``--help`` and ``resume=``
  handled first; ``hydra_errors``: Hydra's errors as one paragraph; ``startup``: the garbage
  collector paused while the heavy libraries load;
- ``config_search`` (where configs are found), ``help`` (``--help``), ``config_tree`` (the
  config printed before a run).

This package imports no TensorFlow, Keras or MLflow at module level (``--help``, ``--cfg`` and
refusals stay under a second); ``train`` imports the run's recipe once the hardware is
prepared. It may import every other package of ktrain; none imports it but ``run`` (the end of
startup) and ``sweeps.search.checks`` (a search space's composition errors, told alike).
"""
