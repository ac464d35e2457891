"""What a run keeps of its model and training, beside ``model.keras``: the model summary, the
targets (``targets.json``, which predictions are decoded by; ``class_names.json``), the history
as JSON, CSV and a plot of train vs validation, a few raw test inputs, and the best value of the
monitored metric."""

import csv
import json
import logging
import math
from pathlib import Path

from ktrain.names import CLASS_NAMES, MODEL_SUMMARY, SAMPLE_INPUTS, TARGETS
from ktrain.tasks import Target

log = logging.getLogger(__name__)

LEARNING_RATE_KEYS = ("lr", "learning_rate")


def write_model_files(model, targets: tuple[Target, ...], out_dir: Path) -> list[Path]:
    """Write the model's summary, the targets, and the class names (index order) of a model of
    one target that has classes (none otherwise); return their paths."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    summary = Path(out_dir) / MODEL_SUMMARY
    summary.write_text("\n".join(lines) + "\n")
    described = Path(out_dir) / TARGETS
    described.write_text(json.dumps([target.describe() for target in targets], indent=1))
    names = Path(out_dir) / CLASS_NAMES
    names.write_text(json.dumps(list(targets[0].classes) if len(targets) == 1 else [], indent=1))
    return [summary, described, names]


def target_params(targets: tuple[Target, ...]) -> dict[str, object]:
    """What the run records of each target as params (its classes' names are in ``targets.json``)."""
    params: dict[str, object] = {}
    for target in targets:
        prefix = f"targets.{target.name}"
        params[f"{prefix}.kind"] = target.kind
        params[f"{prefix}.shape"] = list(target.shape)
        if target.classes:
            params[f"{prefix}.class_count"] = len(target.classes)
        if target.value_range is not None:
            params[f"{prefix}.value_range"] = [round(v, 6) for v in target.value_range]
    return params


def write_sample_inputs(sample_inputs, out_dir: Path) -> Path:
    """Write a few raw test inputs as ``sample_inputs.npy`` (``ktrain-export`` checks each
    format with them); return its path."""
    import numpy as np

    path = Path(out_dir) / SAMPLE_INPUTS
    if isinstance(sample_inputs, dict):  # named inputs: one array each, in an .npz beside it
        path = path.with_suffix(".npz")
        # strings (a table's columns) as unicode arrays, which load without pickle
        np.savez(path, **{name: v.astype(str) if v.dtype == object else v for name, v in sample_inputs.items()})
    else:
        np.save(path, np.asarray(sample_inputs))
    return path


def write_history(rows: list[dict[str, float]], out_dir: Path) -> list[Path]:
    """Write ``history.json``, ``history.csv`` and ``history.png``; return their paths.

    ``rows`` holds one dict per epoch (``EpochLog.rows``); a key an epoch lacks is null in
    JSON and empty in CSV.
    """
    out_dir = Path(out_dir)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = {key: [row.get(key) for row in rows] for key in columns}
    json_path = out_dir / "history.json"
    json_path.write_text(json.dumps(table, indent=1))
    csv_path = out_dir / "history.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    png_path = out_dir / "history.png"
    plot_history(table, png_path)
    return [json_path, csv_path, png_path]


def plot_history(table: dict[str, list], path: Path) -> None:
    """One panel per metric (loss, accuracy, ...), training and validation curves in each."""
    from matplotlib.figure import Figure  # not pyplot: no GUI backend, and a third of the import time

    names = [key for key in table if key != "epoch" and not key.startswith("val_") and key not in LEARNING_RATE_KEYS]
    fig = Figure(figsize=(5 * max(len(names), 1), 4))
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)
    epochs = [epoch + 1 for epoch in table.get("epoch", [])]
    for ax, name in zip(axes[0], names):
        for label, key in (("train", name), ("val", f"val_{name}")):
            if key in table:
                values = [math.nan if v is None else v for v in table[key]]
                ax.plot(epochs, values, marker="o", label=f"{label} {name}")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    # Margins in inches, not tight_layout: it measures every label first, 0.07 of the plot's
    # 0.17 s at the run's end (the y tick labels of loss and accuracy fit in 0.75 in).
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=0.75 / width, right=1 - 0.2 / width, bottom=0.55 / height, top=1 - 0.4 / height, wspace=0.3
    )
    fig.savefig(path, dpi=100)


def best_value(rows: list[dict[str, float]], metric: str, mode: str) -> float:
    """The best value of ``metric`` over the epochs (NaN if it was never logged)."""
    values = [row[metric] for row in rows if metric in row and not math.isnan(row[metric])]
    if not values:
        log.warning("monitor: %s was never logged; returning NaN", metric)
        return math.nan
    return min(values) if mode == "min" else max(values)
