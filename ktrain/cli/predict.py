"""``ktrain-predict`` and ``python predict.py``: predictions of a trained run on new images,
arrays or texts (``ktrain.predict``). Hydra's ``DictConfig`` is validated here, and nothing after reads it."""

import logging
import tempfile
from pathlib import Path

from omegaconf import DictConfig

from ktrain import schema
from ktrain.cli.hydra_main import hydra_main
from ktrain.errors import exit_on_user_error
from ktrain.predict.inputs import find_inputs
from ktrain.predict.table import Settings, predict, print_table, write_csv
from ktrain.tasks import Decoding
from ktrain.tracking.locate import locate_run

log = logging.getLogger(__name__)


@hydra_main(config_name="predict")
def main(cfg: DictConfig) -> None:
    """The ``ktrain-predict`` command: Hydra composes ``cfg`` from the command line."""
    run(cfg)


def run(cfg: DictConfig) -> None:
    """Predict ``cfg.input`` with the model of ``cfg.run``; write ``cfg.output`` or print the table."""
    with exit_on_user_error():
        config = schema.validate_predict(cfg)
        source = find_inputs(config.input, config.column)
        with tempfile.TemporaryDirectory() as downloads:
            files = locate_run(config.run, config.checkpoint, config.mlflow.tracking_uri, Path(downloads))
            settings = Settings(Decoding(config.top_k, config.threshold), config.batch_size, _masks_folder(config))
            header, rows = predict(files, source, settings)
        if config.output:
            write_csv(config.output, header, rows)
            log.info("predict: %d rows written to %s", len(rows), config.output)
        else:
            print_table(header, rows)


def _masks_folder(config: schema.PredictConfig) -> Path:
    """Where mask PNGs go: ``masks``, else beside the CSV (``<output>_masks``), else ``./masks``."""
    if config.masks:
        return Path(config.masks).expanduser()
    if config.output:
        output = Path(config.output).expanduser()
        return output.with_name(f"{output.stem}_masks")
    return Path("masks")
