"""A training run, as a recipe of named steps (``recipe``): record the config, load the data,
build the model, plan the callbacks, fit, evaluate and save.

- ``steps``: the data and the compiled model, shared with the LR range test (``lr_find``);
- ``build``: config nodes instantiated (``hydra.utils.instantiate``), the model compiled;
- ``callback_plan``: the callbacks in named slots (guard, the user's, record, backup, upload);
- ``fitting``: ``fit``'s arguments from the data and the backup;
- ``fine_tune``: ``fine_tune=two_phase``'s two fits in one run;
- ``outputs``: the files beside the model, and the best monitored value;
- ``provenance``: the tags that say where a run comes from.

The only package that wires data, models, callbacks and tracking together: it may import every
package but ``cli`` (whose ``startup`` it signals) and is imported only by ``cli.train``.
"""
