"""A trained run's model exported to deployment formats, each checked in its own runtime.

The model is loaded as the run saved it (Keras' safe mode). Each format is written by Keras'
``model.export`` and then run in its own runtime on the run's sample inputs
(``sample_inputs.npy``: raw test inputs, preprocessing being a part of the model); its outputs
must match the Keras model's within ``tolerance`` (the largest absolute difference of any
output), or the export fails in one paragraph that says by how much.
"""

import logging
import shutil
from pathlib import Path

import numpy as np

from ktrain.distribute.console import quiet_backend_start, quiet_native_logs
from ktrain.errors import UserError
from ktrain.export.formats import FORMATS, run, write
from ktrain.tracking.locate import ModelFiles

log = logging.getLogger(__name__)

RANDOM_SAMPLES = 8  # inputs drawn where a run kept no sample inputs (a run from before ktrain-export)


def export_model(files: ModelFiles, formats: list[str], out: Path, tolerance: float) -> tuple[list[Path], list[str]]:
    """Write the model of ``files`` in each of ``formats`` under ``out``, each checked against
    Keras' predictions; return the paths written and a paragraph for each format refused (the
    others are still written: a model one format cannot hold is often held by the next)."""
    with quiet_backend_start():
        import keras

        from ktrain.models.custom_objects import load_model

        model = load_model(files.model, "run", shown=files.shown())
    _refuse_outside_preprocessing(model)
    inputs = _sample_inputs(files, model)
    outputs = model(inputs if len(inputs) > 1 else next(iter(inputs.values())), training=False)
    named = outputs if isinstance(outputs, dict) else {"output": outputs}
    expected = [keras.ops.convert_to_numpy(value) for _, value in sorted(named.items())]
    out.mkdir(parents=True, exist_ok=True)
    written, refused = [], []
    for name in formats:
        try:
            written.append(_export(name, model, out / FORMATS[name].file, inputs, expected, tolerance))
        except UserError as error:
            refused.append(str(error))
    return written, refused


def _export(name: str, model, path: Path, inputs: dict, expected: list, tolerance: float) -> Path:
    """``model`` written as format ``name`` at ``path`` and run in its runtime on ``inputs``;
    ``UserError`` where its outputs differ from ``expected`` by more than ``tolerance``."""
    fmt = FORMATS[name]
    _remove(path)
    write(fmt, model, path)
    with quiet_native_logs():  # LiteRT's interpreter announces its CPU delegate
        got = run(fmt, model, path, inputs)
    difference = _difference(got, expected)
    count = len(next(iter(inputs.values())))
    log.info("export: %s at %s; largest difference from Keras on %d inputs: %.2g", name, path, count, difference)
    if not difference <= tolerance:
        raise UserError(
            f"format={name}: the exported model's outputs in its runtime differ from the Keras model's by up to "
            f"{difference:.3g} on the run's {count} sample inputs, more than tolerance={tolerance:g}, so "
            f"the export failed and was not logged to the run ({path} is kept to look into). Raise tolerance= "
            "if that difference is acceptable for this model, or export another format."
        )
    return path


def _refuse_outside_preprocessing(model) -> None:
    """A KerasHub task applies its preprocessor in ``predict``, not in its call, which is what
    the formats hold: exported, it would take preprocessed inputs, not the run's raw ones."""
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None or not type(model).__module__.startswith("keras_hub."):
        return
    raise UserError(
        f"The run's model is a KerasHub task ({type(model).__name__}) whose preprocessor "
        f"({type(preprocessor).__name__}) runs in its predict, outside the call that the formats "
        "hold: exported, it would take preprocessed inputs (resized and scaled images, token ids), "
        "not the raw images or text the run was trained on. Serve the run's MLflow model instead "
        "(mlflow models serve -m runs:/<run id>/model, or ktrain-predict), which applies the "
        "preprocessor to raw input. Nothing was exported."
    )


def _sample_inputs(files: ModelFiles, model) -> dict[str, np.ndarray]:
    """The run's raw sample inputs by the model's input names (one name for one input)."""
    names = [tensor.name.split(":")[0] for tensor in model.inputs]
    if files.sample_inputs is not None and files.sample_inputs.suffix == ".npz":  # named inputs
        with np.load(files.sample_inputs) as kept:
            return {name: _as_input(kept[name]) for name in kept.files}
    if files.sample_inputs is not None:
        return {names[0]: _as_input(np.load(files.sample_inputs))}
    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    log.warning(
        "export: the run kept no sample inputs (sample_inputs.npy, written by runs since ktrain-export); "
        "the formats are checked on %d random inputs in [0, 255] of shape %s",
        RANDOM_SAMPLES,
        shapes,
    )
    rng = np.random.default_rng(0)
    return {
        name: rng.uniform(0, 255, (RANDOM_SAMPLES, *shape[1:])).astype("float32") for name, shape in zip(names, shapes)
    }


def _as_input(values: np.ndarray) -> np.ndarray:
    """Numbers as float32, as the run fed them; texts as they are (a model that reads strings)."""
    return values if values.dtype.kind in "USO" else values.astype("float32")


def _difference(got: list, expected: list[np.ndarray]) -> float:
    """The largest absolute difference between each output and Keras' (infinite where the
    outputs do not match in number or shape)."""
    if len(got) != len(expected) or any(np.shape(g) != e.shape for g, e in zip(got, expected)):
        return float("inf")
    gaps = [np.max(np.abs(np.asarray(g, "float64") - e.astype("float64")), initial=0.0) for g, e in zip(got, expected)]
    return float(max(gaps, default=0.0))


def _remove(path: Path) -> None:
    """An earlier export's file or folder at ``path``."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
