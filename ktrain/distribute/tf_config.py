"""TF_CONFIG, the variable that tells each process of a multi-worker run who it is.

Read and checked before TensorFlow is imported: TensorFlow's own parser accepts a
malformed TF_CONFIG and then waits for peers that never come, so a typo would hang a
cluster job instead of stopping it.
"""

import json
import os
from dataclasses import dataclass

from ktrain.errors import UserError

JOBS = ("chief", "worker")
EXAMPLE = '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in the cluster."""

    task_type: str
    task_index: int
    workers: int  # processes in the cluster, chief included
    has_chief: bool  # whether the cluster names a "chief" job

    @property
    def is_chief(self) -> bool:
        """The chief records the run: task "chief", or worker 0 of a cluster without one."""
        return self.task_type == "chief" or (not self.has_chief and self.task_index == 0)


def read_role(environ=os.environ) -> WorkerRole:
    """This process's role from ``TF_CONFIG``; ``UserError`` if it is missing or malformed."""
    raw = environ.get("TF_CONFIG")
    if not raw:
        _refuse("TF_CONFIG is not set")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        _refuse(f"TF_CONFIG is not JSON ({error.msg} at character {error.pos})")
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        _refuse('TF_CONFIG needs a "cluster" object and a "task" object')
    unknown = sorted(set(cluster) - set(JOBS))
    if unknown or not cluster:
        _refuse(f"TF_CONFIG's cluster has the jobs {sorted(cluster)}; allowed: chief (at most one) and worker")
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses or not all(_is_address(a) for a in addresses):
            _refuse(f'TF_CONFIG\'s cluster.{job} must be a list of "host:port" addresses, got {addresses!r}')
    if len(cluster.get("chief", [])) > 1:
        _refuse(f"TF_CONFIG's cluster has {len(cluster['chief'])} chiefs; at most one is allowed")
    task_type, index = task.get("type"), task.get("index")
    if task_type not in cluster:
        _refuse(f"TF_CONFIG's task.type={task_type!r} is not a job of its cluster ({', '.join(cluster)})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[task_type]):
        _refuse(
            f"TF_CONFIG's task.index={index!r} is not an index of cluster.{task_type} "
            f"(0 to {len(cluster[task_type]) - 1})"
        )
    workers = sum(len(addresses) for addresses in cluster.values())
    return WorkerRole(task_type, index, workers, has_chief="chief" in cluster)


def _is_address(value: object) -> bool:
    host, _, port = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


def _refuse(problem: str):
    raise UserError(
        f"hardware=multi_worker reads the cluster from the TF_CONFIG variable, but {problem}. "
        f"Every worker sets the same cluster and its own task, for example TF_CONFIG='{EXAMPLE}' "
        "on the first machine and index 1 on the second; or train on one machine with "
        "hardware=cpu, gpu or multi_gpu."
    )
