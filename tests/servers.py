"""Real servers for the tests, on 127.0.0.1, each stopped by the id of the process it started:
``mlflow server``, ``mlflow models serve`` and PostgreSQL."""

import glob
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
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def mlflow_server(root: Path, backend_store_uri: str):
    """``mlflow server`` on a free port with ``backend_store_uri``, artifacts served by it;
    yields its address and artifact folder."""
    port = free_port()
    log = (root / "server.log").open("w")
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--backend-store-uri", backend_store_uri, "--serve-artifacts",
               "--artifacts-destination", str(root / "artifacts")]  # fmt: skip
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no GenAI job runner
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).close()
                break
            except OSError:
                alive = process.poll() is None and time.monotonic() < deadline
                assert alive, (root / "server.log").read_text()[-3000:]
                time.sleep(0.5)
        yield url, root / "artifacts"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _postgres_bin(name: str) -> str | None:
    """A PostgreSQL program: on the PATH, else Debian's (which keeps them out of the PATH)."""
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)


@contextmanager
def postgres(root: Path):
    """A PostgreSQL server of its own (a new data dir, trust authentication, 127.0.0.1 only),
    with a database ``mlflow``; yields its SQLAlchemy URI. Skips where PostgreSQL is not
    installed (Debian: apt-get install postgresql). As root it runs as the ``postgres`` user,
    since PostgreSQL refuses to run as root."""
    initdb, postgres_bin = _postgres_bin("initdb"), _postgres_bin("postgres")
    if initdb is None or postgres_bin is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Not under pytest's tmp dir: the postgres user may not enter it.
    base = Path(tempfile.mkdtemp(prefix="ktrain-postgres-"))
    data, sockets = base / "data", base / "sockets"
    for folder in (base, data, sockets):
        folder.mkdir(exist_ok=True)
        if as_user:
            shutil.chown(folder, "postgres")
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "mlflow"], check=True,
                   capture_output=True)  # fmt: skip
    port = free_port()
    log = (root / "postgres.log").open("w")
    process = subprocess.Popen(
        [*as_user, postgres_bin, "-D", str(data), "-h", "127.0.0.1", "-p", str(port), "-k", str(sockets)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        createdb = _postgres_bin("createdb")
        deadline = time.monotonic() + 60
        while subprocess.run([createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "mlflow", "mlflow"],
                             capture_output=True).returncode:  # fmt: skip
            assert process.poll() is None and time.monotonic() < deadline, (root / "postgres.log").read_text()
            time.sleep(0.5)
        yield f"postgresql://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        os.killpg(process.pid, signal.SIGINT)  # PostgreSQL's fast shutdown
        process.wait(timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def models_serve_answer(tracking_uri: str, run_id: str, request: dict, folder: Path, timeout_s: float = 180) -> dict:
    """``mlflow models serve`` of run ``run_id``'s logged model, on a free port, asked ``request``
    (the JSON body of /invocations) once it answers; its answer, and the server stopped."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"runs:/{run_id}/model"]
    command += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # mlflow execs `uvicorn` by name: this interpreter's scripts first, as when its venv is active.
    env.update(MLFLOW_TRACKING_URI=tracking_uri, TF_CPP_MIN_LOG_LEVEL="3")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    log_path = folder / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        body = json.dumps(request).encode()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                asked = urllib.request.Request(
                    f"http://127.0.0.1:{port}/invocations", body, {"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(asked, timeout=30) as response:
                    return json.loads(response.read().decode())
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(1)
    finally:
        with suppress(ProcessLookupError):  # a group that is gone already: its exit is in the log above
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
