"""Run train.py as on a machine without TensorFlow: ``python tests/no_tensorflow.py OVERRIDES``.

Importing ``tensorflow`` raises ModuleNotFoundError, as it does where it is not installed, so
a run on another Keras backend shows that nothing in ktrain needs it.
"""

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class HiddenTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by {Path(__file__).name})", name=name)
        return None


sys.meta_path.insert(0, HiddenTensorFlow())
sys.path.insert(0, str(ROOT))
sys.argv = [str(ROOT / "train.py"), *sys.argv[1:]]
runpy.run_path(str(ROOT / "train.py"), run_name="__main__")
