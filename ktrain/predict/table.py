"""The model of a trained run loaded, and its predictions as a table: one row per input, and
for each target the columns its task decodes (``ktrain.tasks``): a class's top labels and
scores, a binary label by ``threshold`` and its probability, the labels over ``threshold``
and every probability, the values of a number target, a mask's PNG file. A model of several
targets has each target's columns, named ``<target>.<column>``. Printed, or written as CSV."""

import csv
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ktrain.cli.startup import startup_done
from ktrain.distribute.console import quiet_backend_start
from ktrain.errors import UserError
from ktrain.predict.inputs import predict_array, predict_images
from ktrain.predict.texts import Texts, predict_texts
from ktrain.tasks import Decoding, Target, task_of
from ktrain.tracking.locate import ModelFiles

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """How predictions are made and written: ``decoding`` (top k, threshold), the batch, and
    where masks go as PNG files."""

    decoding: Decoding
    batch_size: int
    masks: Path


def predict(files: ModelFiles, source: Path | list[str] | Texts, settings: Settings) -> tuple[list[str], list[list]]:
    """The table of predictions: a header and one row per readable input."""
    with quiet_backend_start():
        from ktrain.models.custom_objects import load_model  # Keras: after the config and the run are found

        model = load_model(files.model, "run", shown=files.shown())
    targets = _targets(files, model)
    _check_top_k(targets, settings.decoding.top_k)
    log.info("predict: model %s", files.shown())
    startup_done()

    if isinstance(source, Path):  # a .npy or .npz file: rows are named by their index
        first_column, outputs = "index", predict_array(model, source, settings.batch_size)
        names = list(range(len(next(iter(outputs.values())) if isinstance(outputs, dict) else outputs)))
    elif isinstance(source, Texts):
        first_column, names = source.first_column, source.names
        outputs = predict_texts(model, source, settings.batch_size)
    else:
        first_column = "path"
        names, outputs = predict_images(model, files.config, source, settings.batch_size)
    columns = {}
    for target in targets:
        output = outputs[target.name] if isinstance(outputs, dict) else outputs
        decoded = task_of(target).decode(np.asarray(output), settings.decoding)
        prefix = f"{target.name}." if len(targets) > 1 else ""
        columns.update({f"{prefix}{name}": values for name, values in decoded.items()})
    _write_masks(columns, names, settings.masks)
    header = [first_column, *columns]
    rows = [[name, *(_cell(values[i]) for values in columns.values())] for i, name in enumerate(names)]
    return header, rows


def _targets(files: ModelFiles, model) -> list[Target]:
    """The run's targets: as it recorded them, or, for a run of an earlier ktrain, one class
    target of its class names (or of the model's output width)."""
    if files.targets is not None:
        return [Target.described(values) for values in json.loads(files.targets.read_text())]
    count = model.output_shape[-1]
    names = json.loads(files.class_names.read_text()) if files.class_names else [str(c) for c in range(count)]
    return [Target("label", "class", classes=tuple(names))]


def _check_top_k(targets: list[Target], top_k: int) -> None:
    for target in targets:
        if target.kind == "class" and top_k > len(target.classes):
            raise UserError(
                f"top_k={top_k}: the model knows {len(target.classes)} classes; give top_k <= {len(target.classes)}."
            )


def _write_masks(columns: dict[str, list], names: list, folder: Path) -> None:
    """Each mask column's arrays written as PNG files (pixel values: class indices) in ``folder``;
    the column then holds their paths."""
    from PIL import Image  # Pillow comes with matplotlib

    for column, values in columns.items():
        if not column.endswith("mask"):
            continue
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, (name, mask) in enumerate(zip(names, values)):
            stem = f"{index:05d}_{Path(name).stem}" if isinstance(name, str) else f"{name:05d}"
            path = folder / f"{stem}.{column.replace('.', '_')}.png"
            Image.fromarray(np.asarray(mask, dtype="uint8")).save(path)
            paths.append(str(path))
        columns[column] = paths
    if any(column.endswith("mask") for column in columns):
        log.info("predict: masks written to %s (pixel values are class indices)", folder)


def _cell(value: Any) -> Any:
    return f"{value:.6f}" if isinstance(value, float) else value


def write_csv(path: str, header: list[str], rows: list[list[Any]]) -> None:
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def print_table(header: list[str], rows: list[list[Any]]) -> None:
    """The rows as aligned columns on stdout."""
    table = [header] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    sys.stdout.flush()
