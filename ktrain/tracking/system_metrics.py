"""System metrics of a run's process, logged to its MLflow run as ``system/...``: CPU and
memory, disk, network, and GPU utilisation and memory through nvidia-ml-py where a GPU is
present. MLflow's own monitors read them (psutil, pynvml); ktrain decides when.

MLflow's monitor samples every 10 s, so a one-minute run logs five points, and it reads the
run back from the store at every sample to learn that it ended (3 ms of CPU in a SQLite store,
measured). Here the interval starts short and grows with the run, so that a one-minute run
logs about twenty points and a day-long one one a minute (``sampling_intervals``); the run's
end stops the monitor without a query, and the values go through MLflow's asynchronous queue
with the epochs' metrics. ``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` fixes the interval.

Each process of a multi-worker or multi-host run logs under its own node id
(``system/worker1/cpu_utilization_percentage``), into the chief's run.
"""

import logging
import threading
import time
from collections.abc import Iterator

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.environment_variables import MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL
from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

from ktrain.names import CLUSTER_TAG
from ktrain.tracking.store import store_lock

log = logging.getLogger(__name__)
# MLflow's monitor says at INFO, on every run, that it started and whether it found a GPU.
logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)

FIRST_INTERVAL_S = 2.0
LAST_INTERVAL_S = 60.0
SAMPLES_PER_INTERVAL = 10  # then the interval doubles


def sampling_intervals(first_s: float = FIRST_INTERVAL_S, last_s: float = LAST_INTERVAL_S) -> Iterator[float]:
    """Seconds between samples: ``SAMPLES_PER_INTERVAL`` at ``first_s``, as many at twice that,
    and so on up to ``last_s``: 2 s for the first 20 s, 4 s to a minute, ..., 60 s after 10 minutes."""
    interval = first_s
    while True:
        yield from [interval] * SAMPLES_PER_INTERVAL
        interval = min(interval * 2, last_s)


class SystemMetrics(SystemMetricsMonitor):
    """MLflow's system metrics monitor on ``sampling_intervals``, stopped by ``close``.

    Args:
        run_id: the MLflow run the metrics go to.
        tracking_uri: its tracking server.
        node_id: this process among a run's processes (``worker1``), or None for a run of one.
        resumed: a reopened run: its steps continue from those it holds.

    Example:

    >>> monitor = SystemMetrics(run_id, tracking_uri).start()
    >>> model.fit(...)
    >>> monitor.close()
    """

    def __init__(self, run_id: str, tracking_uri: str, node_id: str | None = None, resumed: bool = False):
        super().__init__(run_id, node_id=node_id, resume_logging=resumed, tracking_uri=tracking_uri)
        fixed = MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL.get()
        self.intervals = iter(lambda: fixed, None) if fixed else sampling_intervals()
        self.client = MlflowClient(tracking_uri)

    def start(self) -> "SystemMetrics":
        super().start()
        return self

    def monitor(self) -> None:
        """Sample, then log, at each interval until ``close``."""
        self.collect_metrics()  # CPU utilisation is measured from one reading to the next
        for monitor in self.monitors:
            monitor.clear_metrics()
        for interval in self.intervals:
            if self._shutdown_event.wait(interval):
                return
            self.collect_metrics()
            try:
                self.publish_metrics(self.aggregate_metrics())
            except Exception:  # a store that went away: the run's own logging reports it
                log.debug("mlflow: system metrics not logged", exc_info=True)
                return

    def publish_metrics(self, metrics: dict[str, float]) -> None:
        prefix = self._metrics_prefix + (f"{self.node_id}/" if self.node_id else "")
        now = int(time.time() * 1000)
        batch = [Metric(f"{prefix}{key}", float(value), now, self._logging_step) for key, value in metrics.items()]
        self.client.log_batch(self._run_id, metrics=batch, synchronous=False)
        self._logging_step += 1
        for monitor in self.monitors:
            monitor.clear_metrics()

    def close(self) -> None:
        """Stop sampling, and log a last sample: the machine as the run ends, and a point from
        every process, however short its part (the run's end flushes what is queued)."""
        if self._process is not None:
            self._shutdown_event.set()
            self._process.join()
            self._process = None
            try:
                self.collect_metrics()
                self.publish_metrics(self.aggregate_metrics())
            except Exception:
                log.debug("mlflow: the last system metrics not logged", exc_info=True)


class PeerSystemMetrics:
    """The system metrics of a process that does not record its run (another process of a
    multi-worker or multi-host run), logged into the chief's run under ``node_id``: the run
    ``run_id`` (a resumed run's), or else the RUNNING run of the experiment that carries this
    cluster's tag (``ktrain.distribute.cluster_key``) and started within ``FIND_WINDOW_S`` of this
    process, looked for every ``FIND_EVERY_S`` until the chief has started it.

    Example:

    >>> with PeerSystemMetrics(uri, "ktrain", cluster_key(hardware), "worker1"):
    ...     model.fit(...)
    """

    FIND_EVERY_S = 2.0
    FIND_WINDOW_S = 600.0

    def __init__(self, tracking_uri: str, experiment_name: str, cluster: str, node_id: str, run_id: str | None = None):
        self.tracking_uri, self.experiment_name = tracking_uri, experiment_name
        self.cluster, self.node_id = cluster, node_id
        self.run_id = run_id
        self._resumed = run_id is not None  # its steps go on from those the run holds
        self._stop = threading.Event()
        self._monitor: SystemMetrics | None = None
        self._thread = threading.Thread(target=self._find_and_start, name="ktrain-peer-metrics", daemon=True)

    def __enter__(self) -> "PeerSystemMetrics":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        self._thread.join()
        if self.run_id is None:  # not found while this process trained: once more, the chief may still be saving
            try:
                self.run_id = self._chief_run(time.time())
                if self.run_id is not None:
                    self._monitor = SystemMetrics(self.run_id, self.tracking_uri, self.node_id, self._resumed)
                    self._monitor.start()
            except Exception:
                log.debug("mlflow: no system metrics from this process", exc_info=True)
        if self._monitor is not None:
            self._monitor.close()
            mlflow.flush_async_logging()
        return False

    def _find_and_start(self) -> None:
        started = time.time()
        try:
            while self.run_id is None and not self._stop.is_set() and time.time() - started < self.FIND_WINDOW_S:
                self.run_id = self._chief_run(started)
                if self.run_id is None:
                    self._stop.wait(self.FIND_EVERY_S)
            if self.run_id is not None and not self._stop.is_set():
                self._monitor = SystemMetrics(self.run_id, self.tracking_uri, self.node_id, self._resumed).start()
        except Exception:  # a store this process cannot reach: the chief records the run regardless
            log.debug("mlflow: no system metrics from this process", exc_info=True)

    def _chief_run(self, started: float) -> str | None:
        with store_lock(self.tracking_uri):  # a new SQLite store: the chief may be making its tables
            client = MlflowClient(self.tracking_uri)  # the first client of a store migrates it
            experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            return None
        since_ms = int((started - self.FIND_WINDOW_S) * 1000)
        runs = client.search_runs(
            [experiment.experiment_id],
            f"tags.`{CLUSTER_TAG}` = '{self.cluster}' AND attributes.status = 'RUNNING' "
            f"AND attributes.start_time >= {since_ms}",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return runs[0].info.run_id if runs else None
