"""``ktrain-export`` and ``python export.py``: a trained run's model in deployment formats
(``ktrain.export``), each checked in its own runtime and logged to the run. Hydra's
``DictConfig`` is validated here, and nothing after reads it."""

import logging
import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig

from ktrain import schema
from ktrain.cli.hydra_main import hydra_main
from ktrain.errors import UserError, exit_on_user_error
from ktrain.export.formats import refuse_missing
from ktrain.names import EXPORT_DIR
from ktrain.tracking.locate import ModelFiles, locate_run
from ktrain.tracking.registry import is_registered_model

log = logging.getLogger(__name__)


@hydra_main(config_name="export")
def main(cfg: DictConfig) -> None:
    """The ``ktrain-export`` command: Hydra composes ``cfg`` from the command line."""
    run(cfg)


def run(cfg: DictConfig) -> None:
    """Export the model of ``cfg.run`` in every ``cfg.format``; log the files to its MLflow run."""
    with exit_on_user_error():
        config = schema.validate_export(cfg)
        refuse_missing(config.format)  # before the run is looked for, and TensorFlow imported
        with tempfile.TemporaryDirectory() as downloads:
            files = locate_run(config.run, config.checkpoint, config.mlflow.tracking_uri, Path(downloads))
            _on_tensorflow()
            from ktrain.export.exporting import export_model  # Keras, once the run is found

            out = Path(config.output).expanduser() if config.output else default_output(config.run, files)
            written, refused = export_model(files, config.format, out, config.tolerance)
        if written and files.run_id is None:
            log.info("export: the run was not recorded in MLflow; the files are in %s only", out)
        elif written:
            from ktrain.tracking.run import log_files

            log_files(files.tracking_uri, files.run_id, written, EXPORT_DIR)  # the run's own store
            names = ", ".join(p.name for p in written)
            log.info("export: logged to MLflow run %s as %s/: %s", files.run_id, EXPORT_DIR, names)
        if refused:
            kept = ", ".join(p.name for p in written)
            logged = " and were logged to the run" if files.run_id else ""
            raise UserError(" ".join(refused) + (f" The other formats passed{logged}: {kept}." if kept else ""))


def _on_tensorflow() -> None:
    """Every format is written by TensorFlow's converters (``tf_saved_model``, tf2onnx, LiteRT),
    so the export runs on Keras' TensorFlow backend whatever backend the run trained on: on JAX,
    Keras' ONNX export asks for jax2onnx, and on torch its saved-model export fails in
    ``torch.export``. A ``.keras`` file loads on any backend."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        log.info("export: on Keras' TensorFlow backend, which writes every format (not KERAS_BACKEND=%s)", backend)
    os.environ["KERAS_BACKEND"] = "tensorflow"  # also over ~/.keras/keras.json


def default_output(run: str, files: ModelFiles) -> Path:
    """``<run dir>/export`` for a run dir; else ``export/<run id>`` (``export/<name>-<version>``
    for a registered model) under the current directory."""
    if Path(run).expanduser().is_dir():
        return Path(run).expanduser() / EXPORT_DIR
    name = run.removeprefix("models:/").replace("@", "-").replace("/", "-") if is_registered_model(run) else run
    return Path(EXPORT_DIR) / name
