"""Run train.py as on a machine without TensorFlow: ``python tests/no_tensorflow.py OVERRIDES``.

Every import finder is wrapped so that it does not see ``tensorflow``: ``import tensorflow``
raises ModuleNotFoundError and ``importlib.util.find_spec`` returns None, as where it is not
installed. A run on another Keras backend then shows that nothing in ktrain needs it.
``HIDDEN_MODULES=jax,jaxlib`` hides those instead (a machine without JAX), and ``SCRIPT=export.py``
runs another of the clone's scripts.
"""

import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


HIDDEN = set(os.environ.get("HIDDEN_MODULES", "tensorflow").split(","))


class WithoutTensorFlow:
    """An import finder that finds what ``finder`` finds, except TensorFlow (the ``HIDDEN`` packages)."""

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, name):  # find_distributions, invalidate_caches, ...
        return getattr(self.finder, name)


sys.meta_path[:] = [WithoutTensorFlow(finder) for finder in sys.meta_path]
sys.path.insert(0, str(ROOT))
SCRIPT = ROOT / os.environ.get("SCRIPT", "train.py")
sys.argv = [str(SCRIPT), *sys.argv[1:]]
runpy.run_path(str(SCRIPT), run_name="__main__")
