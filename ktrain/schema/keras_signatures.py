"""The keyword arguments the installed Keras takes, read without importing Keras.

``keras_signatures.json`` beside this module holds, for ``keras.Model.fit``,
``keras.Model.compile`` and every public class of ``keras.optimizers``, ``keras.callbacks``,
``keras.losses`` and ``keras.metrics`` (keyed by the ``_target_`` a config writes), the names
of its keyword arguments and whether it also takes arbitrary ones. ``generate`` makes it from
Keras (``python scripts/keras_signatures.py`` writes it); ``load`` reads it, in milliseconds
where importing Keras takes seconds, so validation stays before TensorFlow.
tests/test_keras_signatures.py fails when the file differs from what the installed Keras gives.
"""

import ast
import inspect
import json
import re
import textwrap
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

PATH = Path(__file__).with_name("keras_signatures.json")
MODULES = ("optimizers", "callbacks", "losses", "metrics")  # keras.optimizers.schedules is no class
METHODS = ("fit", "compile", "evaluate")
REGENERATE = "python scripts/keras_signatures.py"
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
# ktrain's subclasses of Keras classes that take exactly their base class' arguments.
SAME_AS_KERAS: dict[str, str] = {}
# ktrain's subclasses of Keras classes that take their base class' arguments and a few of their own.
KERAS_AND_OWN = {"ktrain.callbacks.ModelCheckpoint": ("keras.callbacks.ModelCheckpoint", ("background",))}


class Signature(NamedTuple):
    """The keyword names a Keras callable takes; ``any_keyword``: it also takes any other."""

    keywords: tuple[str, ...]
    any_keyword: bool


@cache
def load() -> dict[str, Signature]:
    """The committed signatures, by target (``keras.optimizers.Adam``, ``keras.Model.fit``)."""
    entries = json.loads(PATH.read_text())["signatures"]
    return {target: Signature(tuple(entry["keywords"]), entry["any_keyword"]) for target, entry in entries.items()}


def signature(target: str) -> Signature | None:
    """The signature of ``target``; None where Keras has no such class or method."""
    base, own = KERAS_AND_OWN.get(target, (SAME_AS_KERAS.get(target, target), ()))
    found = load().get(base)
    if found is None or not own:
        return found
    return Signature(tuple(sorted({*found.keywords, *own})), found.any_keyword)


def generate() -> dict[str, Any]:
    """The signatures of the installed Keras, as the JSON file holds them."""
    import keras  # only here: validation reads the committed file and never imports Keras

    signatures = {f"keras.Model.{name}": _entry(getattr(keras.Model, name)) for name in METHODS}
    for module_name in MODULES:
        module = getattr(keras, module_name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and not name.startswith("_"):
                signatures[f"keras.{module_name}.{name}"] = _class_entry(obj)
    return {"keras_version": keras.__version__, "signatures": dict(sorted(signatures.items()))}


def render(data: dict[str, Any]) -> str:
    """The file's text: one line per target, so that a Keras upgrade reads as a short diff."""
    lines = [f"    {json.dumps(target)}: {json.dumps(entry)}" for target, entry in data["signatures"].items()]
    return (
        "{\n"
        f'  "keras_version": {json.dumps(data["keras_version"])},\n'
        '  "signatures": {\n' + ",\n".join(lines) + "\n  }\n}\n"
    )


def _entry(function: Any) -> dict[str, Any]:
    """A method's keyword names and whether its ``**kwargs`` (if any) take anything."""
    parameters = list(inspect.signature(function).parameters.values())[1:]  # not self
    var = next((p.name for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD), None)
    return {
        "keywords": sorted(p.name for p in parameters if p.kind in _NAMED),
        "any_keyword": var is not None and _documents(function, var),
    }


def _class_entry(cls: type) -> dict[str, Any]:
    """The keyword names of ``cls``: those of its ``__init__`` and, while an ``__init__``
    hands its ``**kwargs`` to ``super().__init__``, those of the next ``__init__`` in the MRO
    (Keras' optimizers take the base class' ``weight_decay``, ``use_ema``, ... that way). The
    ``**kwargs`` of the last one take anything only where its docstring documents them: others
    are refused (``BaseOptimizer``) or ignored (``ReduceLROnPlateau``) by Keras."""
    keywords: set[str] = set()
    fixed: set[str] = set()  # passed to the base class by the subclass itself
    any_keyword = False
    for klass in [k for k in cls.__mro__ if "__init__" in vars(k) and k is not object]:
        init = vars(klass)["__init__"]
        parameters = list(inspect.signature(init).parameters.values())[1:]  # not self
        named = [p.name for p in parameters if p.kind in _NAMED]
        keywords |= set(named) - fixed
        var = next((p.name for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD), None)
        call = _super_call(init, var) if var else None
        if call is None:
            any_keyword = var is not None and (_documents(klass, var) or _documents(init, var))
            break
        fixed |= {k.arg for k in call.keywords if k.arg} - set(named)
    return {"keywords": sorted(keywords), "any_keyword": any_keyword}


def _super_call(init: Any, var: str) -> ast.Call | None:
    """The ``super().__init__(..., **var)`` call in ``init``, if it hands ``**var`` on."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
            and isinstance(node.func.value, ast.Call)
            and getattr(node.func.value.func, "id", None) == "super"
            and any(k.arg is None and getattr(k.value, "id", None) == var for k in node.keywords)
        ):
            return node
    return None


def _documents(obj: Any, var: str) -> bool:
    """Whether the docstring of ``obj`` documents ``**var`` among its arguments."""
    return re.search(rf"^\s*(\*\*)?{re.escape(var)}:", inspect.getdoc(obj) or "", flags=re.MULTILINE) is not None
