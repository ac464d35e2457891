"""The deployment formats, each written by Keras' own ``model.export`` and run in its own
runtime: a TensorFlow SavedModel (``tf.saved_model.load`` and its serving signature), ONNX
(onnxruntime) and LiteRT (``ai_edge_litert``'s interpreter).

Each format's ``write`` refuses, in one paragraph naming the layer, a model the format cannot
hold: the converters name the op that failed by its place in the model
(``functional_1/determinant_1/MatrixDeterminant``), and the layer is read from that path.
LiteRT is converted to its built-in ops only, so that the file runs on every LiteRT runtime,
phones included, without TensorFlow's ops linked in (Keras' default adds them, ``SELECT_TF_OPS``).
"""

import importlib.util
import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ktrain.distribute.console import quiet_native_logs
from ktrain.errors import UserError


@dataclass(frozen=True)
class Format:
    """One deployment format: its file, what it needs installed, how it is written and run."""

    name: str
    file: str  # under the export folder
    packages: tuple[str, ...]  # modules the converter and the runtime need
    extra: str  # the pip extra that installs them
    write: Callable  # (model, path) -> None
    run: Callable  # (path, inputs) -> outputs


def _write_saved_model(model, path: Path) -> None:
    model.export(str(path), format="tf_saved_model", verbose=False)


def _run_saved_model(path: Path, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    given = serve.structured_input_signature[1]
    feed = {key: tf.constant(_input(inputs, key)) for key in given}
    return [value.numpy() for _, value in sorted(serve(**feed).items())]


def _write_onnx(model, path: Path) -> None:
    # tf2onnx logs each step of its conversion at INFO, and each op it cannot convert as an error
    # with its traceback, writing the model regardless; onnxruntime's check of the file then names
    # the op, refused in one paragraph (``run``). Keras' patch of tf2onnx for NumPy 2 asks NumPy
    # for np.object, which warns: nothing a user acts on either.
    logging.getLogger("tf2onnx").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message=".*np.object.*", category=FutureWarning)
    model.export(str(path), format="onnx", verbose=False)


def _run_onnx(path: Path, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {given.name: _input(inputs, given.name) for given in session.get_inputs()}
    names = [wanted.name for wanted in session.get_outputs()]
    return [outputs for _, outputs in sorted(zip(names, session.run(None, feed)))]


def _write_litert(model, path: Path) -> None:
    import tensorflow as tf

    builtins = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    model.export(str(path), format="litert", verbose=False, target_spec=builtins)


def _run_litert(path: Path, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    given = runner.get_input_details()
    outputs = runner(**{key: _input(inputs, key).astype(details["dtype"]) for key, details in given.items()})
    return [values for _, values in sorted(outputs.items())]


def _input(inputs: dict[str, np.ndarray], name: str) -> np.ndarray:
    """The input a runtime names ``name`` (``serving_default_pixels:0``, ``keras_tensor``): the
    one of that name, or the one input of a model of one."""
    if len(inputs) == 1:
        return next(iter(inputs.values()))
    return next(values for key, values in inputs.items() if key in name)


FORMATS = {
    "saved_model": Format("saved_model", "saved_model", ("tensorflow",), "", _write_saved_model, _run_saved_model),
    "onnx": Format("onnx", "model.onnx", ("tf2onnx", "onnx", "onnxruntime"), "onnx", _write_onnx, _run_onnx),
    "litert": Format("litert", "model.tflite", ("tensorflow", "ai_edge_litert"), "litert", _write_litert, _run_litert),
}


def refuse_missing(formats: list[str]) -> None:
    """``UserError`` naming the extra to install for each format whose packages are missing."""
    missing = {name: [p for p in FORMATS[name].packages if importlib.util.find_spec(p) is None] for name in formats}
    missing = {name: packages for name, packages in missing.items() if packages}
    if missing:
        told = "; ".join(
            f"format={name} needs {', '.join(packages)}: pip install "
            + (f"'ktrain-hydra[{FORMATS[name].extra}]'" if FORMATS[name].extra else " ".join(packages))
            for name, packages in missing.items()
        )
        raise UserError(
            f"{told} (pip install -e '.[onnx,litert]' in the clone installs every converter). Nothing was exported."
        )


def write(fmt: Format, model, path: Path) -> None:
    """Write ``model`` in ``fmt`` at ``path``; ``UserError`` naming the layer the format cannot hold."""
    # TensorFlow logs "Assets written to: <folder>" for each SavedModel it writes, the LiteRT
    # converter's temporary one too; the export's own line says where each format went.
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    logging.getLogger("tensorflow").addFilter(_not_a_lookup_table_remark)
    # The LiteRT converter prints its diagnostics (every op it lacks, where) from C++: the
    # refusal names the layer and the op, and the lines go to the log.
    with quiet_native_logs(explained=(UserError,)):
        try:
            fmt.write(model, path)
        except Exception as error:
            _refuse_if_an_op_is_missing(fmt, model, error, f"Nothing of format={fmt.name} was written.")
            raise


def _not_a_lookup_table_remark(record: logging.LogRecord) -> bool:
    """False for TensorFlow's warning that a lookup table's initializer (StringLookup's,
    TextVectorization's) is not kept in a graph's collections, which TensorFlow itself calls
    "probably safe to ignore": the saved model keeps the table, and its check passes."""
    return not record.getMessage().startswith("Issue encountered when serializing table_initializer")


def run(fmt: Format, model, path: Path, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The outputs of the file ``fmt`` wrote at ``path`` on ``inputs``, in the format's runtime;
    ``UserError`` naming the layer where the runtime lacks an op the converter wrote (ONNX's
    converter writes TensorFlow's string ops, which onnxruntime does not load)."""
    try:
        return fmt.run(path, inputs)
    except Exception as error:
        _refuse_if_an_op_is_missing(
            fmt, model, error, f"The file is kept at {path} to look into, and nothing was logged to the run."
        )
        raise


def _refuse_if_an_op_is_missing(fmt: Format, model, error: Exception, outcome: str) -> None:
    layer, op = failed_layer(str(error), [layer.name for layer in model.layers])
    if layer is None and op is None:
        return
    where = f"the layer {layer!r}" if layer else "a layer"
    raise UserError(
        f"format={fmt.name} cannot hold this model: {where} ({_layer_type(model, layer)}) needs the op "
        f"{op or 'that its converter refused'}, which {fmt.name} has no kernel for"
        + (" among LiteRT's built-in ops" if fmt.name == "litert" else "")
        + f". Export the other formats, or replace that layer with one made of ops the format holds. {outcome}"
    ) from error


def failed_layer(message: str, layers: list[str]) -> tuple[str | None, str | None]:
    """The layer and the op a converter's ``message`` names as failing, where it names them:
    ``'tf.MatrixDeterminant' op is neither a custom op nor a flex op`` at
    ``functional_1/determinant_1/MatrixDeterminant``, or onnxruntime's ``No Op registered for
    StaticRegexReplace`` in the node ``text_cnn_1/vectorize_1/StaticRegexReplace``; (None,
    None) for another failure."""
    found = re.search(
        r"'tf\.(\w+)' op is neither a custom op|TF Select ops: (\w+)|[Oo]p \[?(\w+)\]? is not supported"
        r"|No Op registered for (\w+)",
        message,
    )
    if found is None:
        return None, None
    op = next(group for group in found.groups() if group)
    for place in re.findall(rf'"([^"]*/{op})@', message) + re.findall(rf"([\w/]+/{op})\b", message):
        for part in reversed(place.split("/")[:-1]):
            name = re.sub(r"_\d+$", "", part)
            if name in layers or part in layers:
                return (part if part in layers else name), op
    return None, op


def _layer_type(model, name: str | None) -> str:
    try:
        return type(model.get_layer(name)).__name__ if name else "its type unknown"
    except ValueError:
        return "its type unknown"
