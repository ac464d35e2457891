"""The model of a trained run loaded, and its predictions as a table: one row per input, the
top classes with their scores; printed, or written as CSV."""

import csv
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from ktrain.cli.startup import startup_done
from ktrain.errors import UserError
from ktrain.predict.inputs import predict_array, predict_images
from ktrain.tracking.locate import ModelFiles

log = logging.getLogger(__name__)


def predict(files: ModelFiles, source: Path | list[str], top_k: int, batch_size: int) -> tuple[list[str], list[list]]:
    """The table of predictions: a header and one row per readable input."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # after the config and the run are found: a refusal stays fast

    try:
        model = keras.saving.load_model(files.model, safe_mode=True)
    except (OSError, ValueError) as error:
        raise UserError(f"The model file {files.model} cannot be loaded in safe mode: {error}") from error
    num_classes = model.output_shape[-1]
    class_names = json.loads(files.class_names.read_text()) if files.class_names else list(map(str, range(num_classes)))
    if top_k > num_classes:
        raise UserError(f"top_k={top_k}: the model knows {num_classes} classes; give top_k <= {num_classes}.")
    log.info("predict: model %s", files.model)
    startup_done()

    if isinstance(source, Path):  # a .npy file: rows are named by their index
        first_column, probabilities = "index", predict_array(model, source, batch_size)
        names = list(range(len(probabilities)))
    else:
        first_column = "path"
        names, probabilities = predict_images(model, files.config, source, batch_size)

    header = [first_column, "label", "score"] + [f"{c}_{k}" for k in range(2, top_k + 1) for c in ("label", "score")]
    rows = []
    for name, row in zip(names, probabilities):
        ranked = row.argsort()[::-1][:top_k]
        rows.append([name] + [v for c in ranked for v in (class_names[c], f"{row[c]:.6f}")])
    return header, rows


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
