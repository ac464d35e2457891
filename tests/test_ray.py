"""hydra/launcher=ray against a real Ray cluster on this machine.

Ray 2.60 takes the machine's interface address even when told 127.0.0.1, so the head and the
sweep run in a network namespace of their own, where loopback is the only interface (no
traffic can reach any other address), and in a PID namespace of their own, so that every
process Ray started ends with the namespace's first process, which the test started and
waits for. Needs root (unshare) and the ``ray`` extra; skipped otherwise.
"""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, script_env

pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="pip install -e '.[ray]'")

pytestmark = pytest.mark.slow

CLUSTER = """
set -u
ip link set lo up
ray start --head --node-ip-address=127.0.0.1 --port={port} --num-cpus=2 --include-dashboard=false \\
    --disable-usage-stats > {root}/ray_start.log 2>&1 || exit 3
export RAY_ADDRESS=127.0.0.1:{port}
{python} train.py -m hydra/launcher=ray optimizer.learning_rate=1e-2,1e-3 fit.epochs=2 data.batch_size=64 \\
    fit.verbose=2 mlflow.log_model=false hydra.sweep.dir={root}/sweep > {root}/sweep.log 2>&1
echo $? > {root}/sweep.exit
{python} train.py -m hydra/launcher=ray hydra.launcher.ray.remote.num_gpus=1 hydra.sweep.dir={root}/gpu \\
    > {root}/gpu.log 2>&1
echo $? > {root}/gpu.exit
ray stop --force > /dev/null 2>&1
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, tracking_uri):
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs root, unshare and ip for a network namespace of its own")
    root = tmp_path_factory.mktemp("ray")
    ray = shutil.which("ray", path=os.path.dirname(sys.executable))
    script = CLUSTER.format(port=6380, root=root, python=sys.executable)
    env = {**script_env(tracking_uri), "PATH": f"{os.path.dirname(ray)}:{os.environ['PATH']}"}
    process = subprocess.Popen(
        ["unshare", "--net", "--pid", "--fork", "--mount-proc", "bash", "-c", script],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        assert process.wait(timeout=900) == 0, (root / "ray_start.log").read_text()[-3000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the namespace's processes end with it
            process.wait()
    return root


def test_a_sweep_runs_on_a_ray_cluster_with_both_jobs_finished_under_one_parent(cluster, client):
    output = (cluster / "sweep.log").read_text()
    assert (cluster / "sweep.exit").read_text().strip() == "0", output[-4000:]
    parent_id = next(line.split("sweep run ")[1].split()[0] for line in output.splitlines() if "sweep run " in line)
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["ktrain.sweep.launcher"] == "RayLauncher"
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    assert sorted(child.data.params["optimizer.learning_rate"] for child in children) == ["0.001", "0.01"]
    assert [child.info.status for child in children] == ["FINISHED", "FINISHED"]


def test_jobs_that_ask_for_a_gpu_on_a_cpu_cluster_are_refused_instead_of_waiting(cluster):
    output = (cluster / "gpu.log").read_text()
    assert (cluster / "gpu.exit").read_text().strip() == "2", output[-3000:]
    paragraphs = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(paragraphs) == 1 and "Traceback" not in output
    assert "num_gpus=1" in paragraphs[0] and "would wait forever" in paragraphs[0]


def test_an_address_where_no_cluster_answers_is_refused_in_one_paragraph(tmp_path, tracking_uri):
    process = subprocess.run(
        [sys.executable, "train.py", "-m", "hydra/launcher=ray", "hydra.launcher.ray.init.address=127.0.0.1:9",
         f"hydra.sweep.dir={tmp_path}"],
        cwd=ROOT, env=script_env(tracking_uri), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr[-3000:]
    assert process.stderr.startswith("Error: hydra.launcher.ray.init.address=127.0.0.1:9: no Ray cluster answers")
    assert "sweep run" not in process.stdout + process.stderr  # refused before the sweep's MLflow run
