"""Look at a sweep in the MLflow UI as a person would, and keep a screenshot of it.

Starts a real ``mlflow ui`` on 127.0.0.1 on the sweep's store and opens the experiment page
in headless Chromium (Debian's ``chromium``, driven by its ``chromedriver`` over WebDriver)
at the address a sweep prints at its end (``compare_url``): the chart view of the sweep's
child runs, best first. Waits
until every child run and the charts of the monitored metric's best value and of ``lr`` are
on the page, then saves a screenshot.

    python scripts/check_mlflow_ui.py --backend-store-uri sqlite:///outputs/mlflow.db \\
        [--parent-run-id ID] [--screenshot docs/mlflow_ui_sweep.png]

Without ``--parent-run-id`` it takes the experiment's latest sweep. Exit status 0 when all
is on the page, 1 when something is missing, 2 when Chromium, the store or the sweep is.

Why WebDriver rather than ``chromium --dump-dom``: the UI fetches runs and draws charts
after the page has loaded, and under load ``--virtual-time-budget`` reads the page before
the charts are there. A person waits until they are; so does this script.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from mlflow import MlflowClient

from ktrain.sweeps.callback import compare_url

CHROMIUM_FLAGS = [  # headless, and quiet on a machine without network access
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1300",
]
PAGE_TIMEOUT_S = 120
ASSISTANT_CLOSE = "mlflow.assistant.chat_panel.close"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend-store-uri", required=True, help="the sweep's tracking store")
    parser.add_argument("--experiment-name", default=os.environ.get("MLFLOW_EXPERIMENT_NAME", "ktrain"))
    parser.add_argument("--parent-run-id", help="the sweep's parent run (default: the latest sweep)")
    parser.add_argument("--screenshot", default="docs/mlflow_ui_sweep.png", type=Path)
    args = parser.parse_args()

    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        print(
            "chromium and chromedriver are needed (Debian: apt-get install -y chromium chromium-driver)",
            file=sys.stderr,
        )
        return 2
    client = MlflowClient(args.backend_store_uri)
    experiment = client.get_experiment_by_name(args.experiment_name)
    parent = _parent(client, experiment, args.parent_run_id) if experiment else None
    if parent is None:
        print(f"no sweep in experiment {args.experiment_name!r} at {args.backend_store_uri}", file=sys.stderr)
        return 2
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    monitor, mode = parent.data.params["monitor.metric"], parent.data.params["monitor.mode"]
    best = f"best_{monitor}"
    expected = {
        **{f"run {child.info.run_name}": child.info.run_name for child in children},
        f"metric {best}": best,
        "metric lr": "lr",
    }

    with _mlflow_ui(args.backend_store_uri) as base_url, _browser(chromedriver, chromium) as browser:
        url = compare_url(base_url, experiment.experiment_id, parent.info.run_id, monitor, mode)
        print(f"page: {url}")
        browser.open(url)
        deadline = time.monotonic() + PAGE_TIMEOUT_S
        while True:
            # the assistant side panel takes a third of the page: close it, as a person would
            browser.run(f"document.querySelector('[data-component-id=\"{ASSISTANT_CLOSE}\"]')?.click()")
            lines = set(browser.run("return document.body.innerText").splitlines())
            missing = [label for label, text in expected.items() if text not in lines]
            charts_drawn = browser.run("return document.querySelectorAll('svg .trace').length") > 0
            if (not missing and charts_drawn) or time.monotonic() > deadline:
                break
            time.sleep(1)
        time.sleep(2)  # the charts settle into the width the closed panel left
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        browser.screenshot(args.screenshot)

    for label in expected:
        print(f"{'MISSING' if label in missing else 'found'} {label}")
    print(f"screenshot: {args.screenshot}")
    return 1 if missing else 0


def _parent(client: MlflowClient, experiment, run_id: str | None):
    if run_id:
        return client.get_run(run_id)
    latest = client.search_runs(
        [experiment.experiment_id],
        "tags.`ktrain.sweep.dir` LIKE '%'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return latest[0] if latest else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _request(method: str, url: str, body: dict | None = None, timeout: float = 60):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


@contextmanager
def _server(command: list[str], ready_url: str, env: dict[str, str] | None = None):
    """A server process, waited for until ``ready_url`` answers; stopped with its children."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    urllib.request.urlopen(ready_url, timeout=2).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"{command[0]} did not start:\n{log.read().decode()[-3000:]}") from None
                    time.sleep(0.5)
            yield
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


@contextmanager
def _mlflow_ui(backend_store_uri: str):
    """A real ``mlflow ui`` on a free 127.0.0.1 port; yields its address."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        backend_store_uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no GenAI job runner
    with _server(command, f"http://127.0.0.1:{port}/health", env):
        yield f"http://127.0.0.1:{port}"


class _Browser:
    """The few WebDriver commands this script needs, over plain HTTP."""

    def __init__(self, session_url: str):
        self.session_url = session_url

    def open(self, url: str) -> None:
        _request("POST", f"{self.session_url}/url", {"url": url})

    def run(self, script: str):
        return _request("POST", f"{self.session_url}/execute/sync", {"script": script, "args": []})["value"]

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(_request("GET", f"{self.session_url}/screenshot")["value"]))


@contextmanager
def _browser(chromedriver: str, chromium: str):
    """Headless Chromium with a fresh profile, driven through chromedriver."""
    port = _free_port()
    with (
        tempfile.TemporaryDirectory() as profile,
        _server([chromedriver, f"--port={port}"], f"http://127.0.0.1:{port}/status"),
    ):
        options = {"binary": chromium, "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]}
        session = _request(
            "POST",
            f"http://127.0.0.1:{port}/session",
            {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}},
        )
        session_url = f"http://127.0.0.1:{port}/session/{session['value']['sessionId']}"
        try:
            yield _Browser(session_url)
        finally:
            _request("DELETE", session_url)


if __name__ == "__main__":
    sys.exit(main())
