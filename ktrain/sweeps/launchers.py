"""What a cluster launcher needs before a sweep's jobs go out, checked when the sweep starts.

A Ray launcher given an address where no cluster answers would fail with a traceback, and a
job that asks for more than any node has (a GPU on a CPU cluster) would wait forever; both
are told here in one paragraph instead. A Hydra callback (``ktrain/conf/hydra/default.yaml``),
since only Hydra knows the launcher; Ray is imported only for a Ray sweep.
"""

import importlib.util
import logging
import os
import shutil
import socket
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ktrain.errors import UserError, exit_on_user_error

log = logging.getLogger(__name__)

RAY_LAUNCHER = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
SLURM_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
EXTRAS = {RAY_LAUNCHER: "ray", SLURM_LAUNCHER: "slurm"}  # the ktrain-hydra extra of each plugin
CONNECT_TIMEOUT_S = 5.0


class LauncherCheck(Callback):
    """Refuses a sweep whose launcher cannot run its jobs, before any job is sent."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        launcher = config.hydra.launcher
        target = launcher.get("_target_", "")
        # Hydra turns what a callback raises into a warning and goes on, so a refusal exits here.
        with exit_on_user_error():
            check_installed(target, config.hydra.runtime.choices.get("hydra/launcher") or target)
            if target == RAY_LAUNCHER:
                check_ray(OmegaConf.to_container(launcher.ray, resolve=True))
            if target == SLURM_LAUNCHER and shutil.which("sbatch") is None:
                raise UserError(
                    "hydra/launcher=slurm submits each job with SLURM's sbatch, which is not on this machine's "
                    "PATH, so the sweep was not started. Run it on the cluster's login node, or run its jobs "
                    "here: hydra/launcher=submitit_local (submitit's path, without SLURM), hydra/launcher=joblib "
                    "(in parallel), or without hydra/launcher (one by one)."
                )


def check_installed(target: str, option: str) -> None:
    """``UserError`` naming what to install if the launcher's plugin is not installed (Hydra
    would end in a traceback after the sweep's parent run was made)."""
    module = target.rpartition(".")[0]
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        found = False
    if not found:
        extra = EXTRAS.get(target)
        install = f"pip install 'ktrain-hydra[{extra}]'" if extra else f"install the Hydra plugin of {target}"
        raise UserError(
            f"hydra/launcher={option} runs the jobs through {module}, which is not installed here, so the sweep "
            f"was not started: {install}, or run the jobs here with hydra/launcher=joblib (in parallel) or "
            "without hydra/launcher (one by one)."
        )


def check_ray(settings: dict[str, Any]) -> None:
    """Join (or start) the Ray instance the launcher will use, as it would, and check that a
    node has the resources each job asks for; the launcher then reuses the connection."""
    import ray

    init = settings.get("init") or {}
    address = init.get("address") or os.environ.get("RAY_ADDRESS")
    if address not in (None, "auto", "local"):
        _check_answers(address)
    try:
        ray.init(**init)
    except ConnectionError as error:
        raise UserError(
            f"hydra.launcher.ray.init.address={address}: {error}. Start a cluster (ray start --head), give "
            "its address (hydra.launcher.ray.init.address=host:port, or RAY_ADDRESS), or leave the "
            "address null to start a Ray instance on this machine."
        ) from None
    _check_resources(settings.get("remote") or {}, [node["Resources"] for node in ray.nodes() if node["Alive"]])


def _check_answers(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as error:
        raise UserError(
            f"hydra.launcher.ray.init.address={address}: no Ray cluster answers there ({error}). Start "
            "one (ray start --head --port=6379), give the address of a running one (host:port, or the "
            "RAY_ADDRESS variable), or leave the address null to start a Ray instance on this machine."
        ) from None


def _check_resources(remote: dict[str, Any], nodes: list[dict[str, float]]) -> None:
    """``UserError`` if no node has what ``remote`` asks of each job (Ray would wait forever)."""
    asked = {"CPU": remote.get("num_cpus", 1), "GPU": remote.get("num_gpus", 0)}
    if any(all(node.get(kind, 0) >= amount for kind, amount in asked.items()) for node in nodes):
        return
    have = "; ".join(f"CPU {node.get('CPU', 0):g}, GPU {node.get('GPU', 0):g}" for node in nodes)
    raise UserError(
        f"each job asks for num_cpus={asked['CPU']:g} and num_gpus={asked['GPU']:g} "
        f"(hydra.launcher.ray.remote), but no node of the Ray cluster has that much (nodes: {have}), so the "
        "jobs would wait forever. Ask for less (hydra.launcher.ray.remote.num_gpus=0 on a CPU cluster), "
        "or add nodes that have it."
    )
