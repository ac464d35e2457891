"""``python train.py -m resume=<sweep dir or parent run id>``: continue a sweep.

Before Hydra starts, ``hydra_args`` replays the sweep's own overrides, which Hydra saved in
the sweep dir's ``multirun.yaml``, into the same sweep dir, and marks the sweep as resumed
(``RESUMED_SWEEP_ENV``, which the sweep callback reads to reopen the parent MLflow run).
Each job then looks up its own child run (``ktrain.tracking.sweep_jobs``): FINISHED is
skipped, KILLED or lost resumes from its backup, never started runs.

This module imports MLflow only for a parent run id.
"""

import json
import os
from pathlib import Path

from omegaconf import OmegaConf

from ktrain.errors import UserError
from ktrain.names import MULTIRUN_CONFIG, SWEEP_RECORD, SWEEP_TAG_PREFIX

RESUMED_SWEEP_ENV = "KTRAIN_RESUMED_SWEEP"  # the sweep dir being continued


def record_parent(sweep_dir: Path, run_id: str) -> None:
    """Write the sweep dir's record of its parent run, which a continued sweep reopens."""
    (sweep_dir / SWEEP_RECORD).write_text(json.dumps({"run_id": run_id}))


def recorded_parent(sweep_dir: Path) -> str:
    """The parent run that ``record_parent`` wrote into ``sweep_dir``."""
    try:
        return json.loads((sweep_dir / SWEEP_RECORD).read_text())["run_id"]
    except (OSError, ValueError, KeyError):
        raise UserError(f"-m resume={sweep_dir}: the sweep dir has no {SWEEP_RECORD} naming its parent run.") from None


def continues(sweep_dir: Path) -> bool:
    """Whether this process continues the sweep in ``sweep_dir`` (``-m resume=``)."""
    return os.environ.get(RESUMED_SWEEP_ENV) == str(sweep_dir)


def hydra_args(value: str, args: list[str]) -> list[str]:
    """The command line that continues the sweep ``resume=value`` names; ``args`` may hold
    only ``-m`` and ``resume``."""
    others = [a for a in args if a not in ("-m", "--multirun") and not a.startswith("resume=")]
    if others:
        raise UserError(
            f"-m resume={value} continues the sweep with its own saved overrides, so other "
            f"arguments are refused (got: {' '.join(others)})."
        )
    sweep_dir = _sweep_dir(value)
    saved = OmegaConf.load(sweep_dir / MULTIRUN_CONFIG).hydra.overrides
    replayed = [str(o) for o in saved.hydra if not str(o).startswith(("hydra.sweep.dir=", "hydra.mode="))]
    os.environ[RESUMED_SWEEP_ENV] = str(sweep_dir)
    return ["-m", *replayed, *[str(o) for o in saved.task], f"hydra.sweep.dir='{sweep_dir}'"]


def _sweep_dir(value: str) -> Path:
    path = Path(value).expanduser().resolve()
    if not path.exists() and len(value) == 32 and all(c in "0123456789abcdef" for c in value):
        path = _parent_run_sweep_dir(value)
    if not (path / MULTIRUN_CONFIG).is_file():
        problem = "does not exist" if not path.exists() else f"has no {MULTIRUN_CONFIG}"
        raise UserError(
            f"-m resume={value} continues a sweep, but {path} {problem}: it is not a sweep dir. "
            "Give the sweep dir that train.py -m printed (outputs/multirun/<date>/<time>, where "
            f"Hydra wrote {MULTIRUN_CONFIG}) or the sweep's parent MLflow run id; to continue "
            "one run, drop -m."
        )
    return path


def _parent_run_sweep_dir(run_id: str) -> Path:
    """The sweep dir a parent MLflow run names (its ``ktrain.sweep.dir`` tag)."""
    from mlflow import MlflowClient  # only for a parent run id
    from mlflow.exceptions import MlflowException

    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'outputs' / 'mlflow.db'}"
    try:
        tags = MlflowClient(uri).get_run(run_id).data.tags
    except MlflowException as error:
        raise UserError(f"-m resume={run_id} is neither a sweep dir nor a run at the tracking server {uri}.") from error
    if f"{SWEEP_TAG_PREFIX}dir" not in tags:
        raise UserError(
            f"-m resume={run_id}: MLflow run {run_id} is not a sweep's parent run (no {SWEEP_TAG_PREFIX}dir tag)."
        )
    sweep_dir = Path(tags[f"{SWEEP_TAG_PREFIX}dir"])
    if not (sweep_dir / MULTIRUN_CONFIG).is_file():  # on a machine that lacks it
        _download_sweep(MlflowClient(uri), run_id, sweep_dir)
    return sweep_dir


def _download_sweep(client, run_id: str, sweep_dir: Path) -> None:
    """The sweep dir made again from its parent run: Hydra's record of the sweep and the record
    of the parent run (each job then fetches its own backup, ``ktrain.tracking.sweep_jobs``)."""
    from mlflow.exceptions import MlflowException

    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        client.download_artifacts(run_id, MULTIRUN_CONFIG, str(sweep_dir))
    except OSError as error:
        raise UserError(
            f"-m resume={run_id}: the sweep's dir {sweep_dir} is not on this machine and cannot be made "
            f"here ({error.strerror}). Continue it where that path can be written (the jobs' run dirs go there)."
        ) from error
    except MlflowException as error:
        raise UserError(
            f"-m resume={run_id}: the sweep's dir {sweep_dir} is not on this machine, and its parent run has no "
            f"{MULTIRUN_CONFIG} artifact to make it again from. Continue it on the machine that holds the dir, "
            "with -m resume=<sweep dir>."
        ) from error
    record_parent(sweep_dir, run_id)
