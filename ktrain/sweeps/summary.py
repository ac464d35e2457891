"""A sweep's summary, read back from its child runs in MLflow: one row per job, the best job,
a table (CSV and Markdown) and a plot comparing the jobs.

Reading the children from the tracking store, rather than from the launcher's results, makes
the summary the same wherever the jobs ran.
"""

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

from ktrain.names import ERROR_TAG, JOB_TAG, KILLED_TAG, PARENT_RUN_TAG, PRUNED_AT_TAG

LEARNING_RATE_PARAM = "optimizer.learning_rate"


@dataclass
class Job:
    """One child run of a sweep."""

    number: int | None
    name: str
    run_id: str
    status: str
    value: float  # the best monitored value (NaN when never logged)
    test: dict[str, float]
    epochs: int
    wall_time_s: float | None
    learning_rate: float | None
    error: str
    pruned: bool = False  # an Optuna trial stopped by its pruner: FINISHED, yet not a candidate for best
    curve: list[tuple[int, float]] = field(default_factory=list)


def collect_jobs(
    client: MlflowClient, experiment_id: str, parent_run_id: str, monitor: str, mode: str = "min"
) -> list[Job]:
    """The sweep's jobs in job order, with their monitored metric per epoch; a job stopped
    before its end scores the best of the epochs it logged."""
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], f"tags.{PARENT_RUN_TAG} = '{parent_run_id}'", max_results=1000, page_token=token
        )
        runs += list(page)
        token = page.token
        if not token:
            break
    jobs = [_job(client, run, monitor, mode) for run in runs]
    return sorted(jobs, key=lambda job: (job.number is None, job.number or 0, job.run_id))


def _job(client: MlflowClient, run, monitor: str, mode: str) -> Job:
    info, data = run.info, run.data
    number = data.tags.get(JOB_TAG)
    learning_rate = data.params.get(LEARNING_RATE_PARAM)
    curve = [(m.step, m.value) for m in client.get_metric_history(info.run_id, monitor)]
    return Job(
        number=int(number) if number is not None else None,
        name=data.tags.get(MLFLOW_RUN_NAME, info.run_id),
        run_id=info.run_id,
        status=info.status,
        value=data.metrics.get(f"best_{monitor}", _best_of(curve, mode)),
        test={k: v for k, v in sorted(data.metrics.items()) if k.startswith("test_")},
        epochs=len(client.get_metric_history(info.run_id, "loss")),
        wall_time_s=(info.end_time - info.start_time) / 1000 if info.end_time else None,
        learning_rate=float(learning_rate) if learning_rate is not None else None,
        error=data.tags.get(ERROR_TAG) or _stopped_by(info.status, data.tags.get(KILLED_TAG)),
        pruned=PRUNED_AT_TAG in data.tags,
        curve=sorted(curve),
    )


def _best_of(curve: list[tuple[int, float]], mode: str) -> float:
    values = [value for _, value in curve if not math.isnan(value)]
    return (max if mode == "max" else min)(values) if values else math.nan


def _stopped_by(status: str, signal: str | None) -> str:
    """What stopped a KILLED run (the tag stays on a run resumed to its end)."""
    return f"stopped by {signal}" if status == "KILLED" and signal else ""


def best_job(jobs: list[Job], mode: str) -> Job | None:
    """The finished job with the best monitored value (``mode``: min or max)."""
    scored = [job for job in jobs if job.status == "FINISHED" and not job.pruned and not math.isnan(job.value)]
    if not scored:
        return None
    pick = min if mode == "min" else max
    return pick(scored, key=lambda job: job.value)


def write_summary(jobs: list[Job], metric: str, out_dir: Path) -> list[Path]:
    """``sweep_summary.csv``, ``.md`` and ``.png`` in ``out_dir``; their paths."""
    out_dir = Path(out_dir)
    test_keys = sorted({key for job in jobs for key in job.test})
    header = ["job", "overrides", "status", metric, *test_keys, "epochs", "wall_time_s", "run_id"]
    rows = [
        [
            job.number,
            job.name,
            job.status,
            job.value,
            *(job.test.get(k, math.nan) for k in test_keys),
            job.epochs,
            job.wall_time_s,
            job.run_id,
        ]
        for job in jobs
    ]
    csv_path = out_dir / "sweep_summary.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
    md_path = out_dir / "sweep_summary.md"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    md_path.write_text("\n".join(lines) + "\n")
    png_path = out_dir / "sweep_summary.png"
    plot_jobs(jobs, metric.removeprefix("best_"), png_path)
    return [csv_path, md_path, png_path]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def plot_jobs(jobs: list[Job], monitor: str, path: Path) -> None:
    """Left: the monitored metric per epoch, one curve per job. Right: its best value against
    the learning rate, one line per combination of the job's other overrides."""
    from matplotlib.figure import Figure  # not pyplot: no GUI backend
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(13, 5))
    curves, by_rate = fig.subplots(1, 2)
    for job in jobs:
        if job.curve:
            epochs, values = zip(*job.curve)
            curves.plot([e + 1 for e in epochs], values, marker="o", label=f"{job.number}: {job.name}"[:60])
    curves.set(xlabel="epoch", ylabel=monitor, title=f"{monitor} per epoch")
    curves.xaxis.set_major_locator(MaxNLocator(integer=True))
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if job.learning_rate is not None and not math.isnan(job.value):
            others = " ".join(o for o in job.name.split() if not o.startswith(f"{LEARNING_RATE_PARAM}="))
            groups.setdefault(others or "all jobs", []).append(job)
    for label, members in groups.items():
        members.sort(key=lambda job: job.learning_rate)
        by_rate.plot([j.learning_rate for j in members], [j.value for j in members], marker="o", label=label[:60])
    by_rate.set(
        xscale="log", xlabel="learning rate", ylabel=f"best {monitor}", title=f"best {monitor} vs learning rate"
    )
    for ax in (curves, by_rate):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
