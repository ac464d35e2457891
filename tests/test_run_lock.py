"""A live run is never resumed twice: the run dir's lock and the heartbeat tag in MLflow;
a lock left by a dead process does not block."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import refuse
from ktrain.errors import UserError
from ktrain.names import HOLDER_TAG
from ktrain.resume.holder import holding, refuse_if_held_remotely
from ktrain.resume.lock import STALE_S, Holder, RunLock, live_holder
from test_resume import start, wait_for_backup


def test_resume_of_a_live_run_is_refused_naming_host_and_pid_and_leaves_it_untouched(tracking_uri, client, tmp_path):
    live = start(tracking_uri, "fit.epochs=200", "fit.verbose=2", "mlflow.log_model=false", f"hydra.run.dir={tmp_path}")
    try:
        wait_for_backup(live, tmp_path, 1)
        record = json.loads((tmp_path / "mlflow_run.json").read_text())
        log_before = (tmp_path / "train.log").read_text()
        message, output = refuse(tracking_uri, f"resume={tmp_path}")
        assert f"is being trained right now by process {live.pid} on host {socket.gethostname()}" in message
        assert "mlflow: run" not in output
        assert (tmp_path / "train.log").read_text().startswith(log_before)  # the refusal wrote nothing there
        run = client.get_run(record["run_id"])
        assert run.info.status == "RUNNING" and "ktrain.resumed_with" not in run.data.tags
        holder = Holder.from_json(run.data.tags["ktrain.holder"])
        assert (holder.host, holder.pid) == (socket.gethostname(), live.pid)
        with pytest.raises(UserError, match=f"process {live.pid} on host"):
            refuse_if_held_remotely(client, record["run_id"], f"resume={record['run_id']}")
        steps = [m.step for m in client.get_metric_history(record["run_id"], "val_loss")]
        assert steps == sorted(set(steps))  # each epoch once
    finally:
        live.send_signal(signal.SIGKILL)
        live.wait(timeout=60)
    assert live_holder(tmp_path) is None  # the kill freed the lock: a resume may go on


def test_a_lock_left_by_a_dead_process_does_not_block(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = Holder(socket.gethostname(), int(dead.stdout), time.time())
    (tmp_path / "run.lock").write_text(stale.to_json())
    assert live_holder(tmp_path) is None
    lock = RunLock(tmp_path)
    lock.acquire("the run")
    assert Holder.from_json((tmp_path / "run.lock").read_text()).pid == os.getpid()
    with pytest.raises(UserError, match=f"process {os.getpid()} on host"):
        RunLock(tmp_path).acquire("the run")
    lock.release()
    assert not (tmp_path / "run.lock").exists()


def test_a_run_held_shorter_than_a_beat_deletes_its_dead_predecessors_tag(tracking_uri, client, tmp_path):
    """A resumed run that ends before its first heartbeat still takes the tag of the process
    that died training it off the run, so that the run shows no holder once it has ended."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run_id = client.create_run(client.create_experiment("held briefly")).info.run_id
    client.set_tag(run_id, HOLDER_TAG, Holder(socket.gethostname(), int(dead.stdout), time.time()).to_json())
    with holding(tmp_path, tracking_uri, lambda: run_id):
        pass  # no beat: they come a second apart
    assert HOLDER_TAG not in client.get_run(run_id).data.tags


def test_another_hosts_holder_blocks_until_its_heartbeat_is_stale():
    assert Holder("node-7", 1234, time.time() - 10).alive()
    assert not Holder("node-7", 1234, time.time() - STALE_S - 1).alive()
    assert not Holder(socket.gethostname(), 2**22 + 7, time.time()).alive()  # no such pid here
