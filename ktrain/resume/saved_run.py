"""``python train.py resume=<run dir>``: continue a run from its last completed epoch.

``resume=<MLflow run id>`` first downloads the run's config and backup from the tracking
server into a run dir (``ktrain.tracking.fetch_run``), then goes on the same way.

Two steps. Before Hydra starts, ``hydra_args`` makes the job run in the old run dir: its
``train.log`` grows, and its saved ``.hydra/`` config stays as the run wrote it. Inside the
job, ``load`` swaps the composed config for that saved one (only ``fit.epochs`` may be raised
alongside ``resume``) and names the MLflow run to reopen, from the ``mlflow_run.json`` that
the run wrote when it started. Weights, optimizer, epoch and callback state come back from
the run's backup (``ktrain.callbacks.RunBackup``).
"""

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from ktrain import overrides as command_line
from ktrain.cli.config_search import recall
from ktrain.errors import UserError
from ktrain.names import RUN_RECORD, SAVED_CONFIG, SAVED_HYDRA_CONFIG, SAVED_OVERRIDES, command, program
from ktrain.resume.lock import refuse_if_held
from ktrain.schema.run import group_options

ALLOWED = ("resume", "fit.epochs")
# What each process of a hardware=multi_host run may give anew: where it now runs.
PROCESS_KEYS = ("hardware.coordinator_address", "hardware.num_processes", "hardware.process_id")
RUN_ID = re.compile(r"[0-9a-f]{32}")  # MLflow's run ids


@dataclass(frozen=True)
class Resumed:
    """A run to continue: its saved config, its MLflow run, the group options it was composed of."""

    cfg: DictConfig
    run_id: str
    choices: dict[str, str]


def hydra_args(value: str, args: list[str]) -> list[str]:
    """Command-line ``args`` (which give ``resume=value``) with what a resume needs of Hydra: the
    old run dir as the job's dir, the resume path made absolute, and no new ``.hydra/`` written
    over the saved one."""
    kept = command_line.without(args, "resume")
    if is_run_id(value):
        kept, run_dir = _fetch(value, kept)
    run_dir = check_run_dir(value if not is_run_id(value) else str(run_dir))
    recall(json.loads((run_dir / RUN_RECORD).read_text()))
    if any(o.key.startswith("hardware.") for o in command_line.parsed(kept)):  # Hydra composes a
        kept = [f"hardware={_saved_choices(run_dir).get('hardware', 'cpu')}", *kept]  # process's keys in its option
    return [*kept, f"resume='{run_dir}'", f"hydra.run.dir='{run_dir}'", "hydra.output_subdir=null"]


def is_run_id(value: str) -> bool:
    """Whether ``resume=value`` names an MLflow run (32 hex digits, and no such path here)."""
    return bool(RUN_ID.fullmatch(value)) and not Path(value).exists()


def _fetch(run_id: str, args: list[str]) -> tuple[list[str], Path]:
    """The run dir that ``resume=<run id>`` downloads the run into, and ``args`` without the
    ``hydra.run.dir`` and ``mlflow.tracking_uri`` that chose it and the server."""
    given_uri, given_dir = command_line.last(args, "mlflow.tracking_uri"), command_line.last(args, "hydra.run.dir")
    tracking_uri = (given_uri and given_uri.plain_value) or os.environ.get("MLFLOW_TRACKING_URI")
    tracking_uri = tracking_uri or f"sqlite:///{Path.cwd() / 'outputs' / 'mlflow.db'}"  # train.yaml's default
    run_dir = Path((given_dir and given_dir.plain_value) or Path("outputs") / "resumed" / run_id).expanduser().resolve()
    from ktrain.resume.holder import refuse_if_tagged
    from ktrain.tracking.fetch_run import fetch_run  # MLflow: only for a resume by run id

    what = f"resume={run_id}: MLflow run {run_id}"
    fetch_run(run_id, tracking_uri, run_dir, lambda tags: refuse_if_tagged(tags, what))
    return command_line.without(args, "hydra.run.dir", "mlflow.tracking_uri"), run_dir


def check_run_dir(value: str) -> Path:
    """The absolute run dir named by ``resume=value``; ``UserError`` if it is not a ktrain run."""
    run_dir = Path(value).expanduser().resolve()
    if not (run_dir / SAVED_CONFIG).is_file():
        problem = "does not exist" if not run_dir.exists() else f"has no {SAVED_CONFIG}"
        raise UserError(
            f"resume={value} is not a ktrain run dir: {run_dir} {problem}. Give the dir that "
            f"{program('train')} printed as 'run dir:' (outputs/<date>/<time>), which holds the run's "
            f".hydra/ config and {RUN_RECORD}."
        )
    if not (run_dir / RUN_RECORD).is_file():
        overrides = _saved_overrides(run_dir)
        raise UserError(
            f"resume={value} names a run that stopped before its MLflow run started ({run_dir} "
            f"has no {RUN_RECORD}), so there is nothing to continue. Start it anew: "
            f"{command('train')} {' '.join(overrides)}".rstrip()
            + "."
        )
    refuse_if_held(run_dir, f"resume={value}: the run in {run_dir}")
    return run_dir


def load(cfg: DictConfig, overrides: list[str]) -> Resumed:
    """The run's own saved config, with ``fit.epochs`` raised if ``overrides`` say so, and
    the MLflow run to reopen. ``overrides`` are the job's command-line overrides."""
    run_dir = check_run_dir(cfg.resume)
    saved = OmegaConf.load(run_dir / SAVED_CONFIG)
    record = json.loads((run_dir / RUN_RECORD).read_text())
    where = f"resume={run_dir}"
    if saved.hardware.get("strategy") == "multi_worker":
        raise UserError(
            f"{where} is a hardware=multi_worker run, and resuming one is not supported: its "
            "workers kept no backup. Start it anew, or train on many machines with hardware=multi_host."
        )
    _refuse_other_overrides(overrides, saved, _saved_choices(run_dir), where)
    _take_process_keys(cfg, saved, overrides)
    # .hydra/ stays as the run wrote it: fit.epochs raised by an earlier resume is in the record.
    planned = int(record.get("fit_epochs", saved.fit.epochs))
    epochs = planned
    if command_line.last(overrides, "fit.epochs") is not None:
        if cfg.fit.epochs < epochs:
            raise UserError(
                f"{where} fit.epochs={cfg.fit.epochs}: a resumed run can only raise fit.epochs "
                f"(the run has fit.epochs={epochs})."
            )
        epochs = cfg.fit.epochs
    status = _status(record, where)
    if status == "FINISHED" and epochs <= planned:
        raise UserError(
            f"{where}: its MLflow run {record['run_id']} already FINISHED its fit.epochs={epochs} "
            f"epochs, so there is nothing to continue. Raise fit.epochs to train on ({command('train')} "
            f"resume={run_dir} fit.epochs={epochs * 2}), or start a new run."
        )
    with open_dict(saved):
        saved.resume = str(run_dir)
        saved.fit.epochs = epochs
        saved.paths.output_dir = str(run_dir)
        saved.mlflow.tracking_uri = record["tracking_uri"]
    return Resumed(saved, record["run_id"], _saved_choices(run_dir))


def _refuse_other_overrides(overrides: list[str], saved: DictConfig, choices: dict[str, str], where: str) -> None:
    allowed = [*ALLOWED]
    if saved.hardware.get("strategy") == "multi_host":
        allowed += [*PROCESS_KEYS, f"hardware={choices.get('hardware')}"]  # (which hydra_args adds)
    others = [o for o in overrides if o not in allowed and command_line.key_of(o) not in allowed]
    if others:
        raise UserError(
            f"{where} continues the run with its own saved config, so other overrides are "
            f"refused (got: {' '.join(others)}). Only fit.epochs may be given, to raise it (the "
            f"run has fit.epochs={saved.fit.epochs})"
            + (f", and each process's {', '.join(PROCESS_KEYS)}" if len(allowed) > len(ALLOWED) else "")
            + ". To change anything else, start a new run."
        )


def _take_process_keys(cfg: DictConfig, saved: DictConfig, overrides: list[str]) -> None:
    """The multi-host process keys given alongside ``resume``, into the saved config."""
    given = {command_line.key_of(o) for o in overrides}
    with open_dict(saved):
        for key in PROCESS_KEYS:
            if key in given:
                OmegaConf.update(saved, key, OmegaConf.select(cfg, key))


def _status(record: dict, where: str) -> str:
    from mlflow import MlflowClient  # a second of startup, spent only once the run dir checks out
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient(record["tracking_uri"]).get_run(record["run_id"]).info.status
    except MlflowException as error:
        raise UserError(
            f"{where} names MLflow run {record['run_id']} at {record['tracking_uri']}, which "
            f"cannot be read there ({str(error).splitlines()[0]}). Resume with the tracking "
            "store the run was recorded in, or start a new run."
        ) from error


def _saved_overrides(run_dir: Path) -> list[str]:
    path = run_dir / SAVED_OVERRIDES
    return [str(o) for o in OmegaConf.load(path)] if path.is_file() else []


def _saved_choices(run_dir: Path) -> dict[str, str]:
    """The group options the run was composed of, from Hydra's record of it."""
    path = run_dir / SAVED_HYDRA_CONFIG
    if not path.is_file():
        return {}
    return group_options(OmegaConf.load(path).hydra.runtime.choices)
