"""JAX multi-process data parallelism (``hardware=multi_host``): one process per host, joined
by ``jax.distributed``, the path Keras' maintainers recommend for training on many machines
(keras-team/keras#20585).

The process's place is read before JAX is imported, so that only process 0 records the run:
``hardware.process_id`` and ``hardware.num_processes``, or, where they are null, the
variables a cluster sets for each task (SLURM's ``SLURM_PROCID`` and ``SLURM_NTASKS``, Open
MPI's ``OMPI_COMM_WORLD_RANK`` and ``OMPI_COMM_WORLD_SIZE``); ``hardware.coordinator_address``
(``host:port`` of process 0), else ``JAX_COORDINATOR_ADDRESS``.
"""

import os
import socket
import time
from dataclasses import dataclass
from typing import NoReturn

from ktrain.errors import UserError

RANK_VARIABLES = ("SLURM_PROCID", "OMPI_COMM_WORLD_RANK")
SIZE_VARIABLES = ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE")


@dataclass(frozen=True)
class Role:
    """This process's place among the run's processes."""

    process_id: int
    num_processes: int
    coordinator_address: str

    @property
    def is_chief(self) -> bool:
        return self.process_id == 0


def read_role(hardware) -> Role:
    """This process's role, from the hardware config or the cluster's variables."""
    process_id = _setting(hardware.process_id, RANK_VARIABLES, "process_id")
    num_processes = _setting(hardware.num_processes, SIZE_VARIABLES, "num_processes")
    coordinator = hardware.coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if not coordinator or not coordinator.rpartition(":")[2].isdigit():
        _refuse(f"hardware.coordinator_address={coordinator!r} is not host:port")
    if not 0 <= process_id < num_processes:
        _refuse(f"hardware.process_id={process_id} is not below hardware.num_processes={num_processes}")
    return Role(process_id, num_processes, coordinator)


def join(role: Role, timeout_s: int, cpu: bool) -> None:
    """Join the run's processes (``jax.distributed.initialize``); on the CPU their collectives
    go through gloo. ``UserError`` if they are not all there within ``timeout_s``."""
    import jax

    deadline = time.monotonic() + timeout_s
    if role.is_chief:
        _gather(role, deadline, timeout_s)
    else:
        _report(role, deadline, timeout_s)
    if cpu:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    remaining = max(int(deadline - time.monotonic()), 10)  # all are up: this only connects them
    jax.distributed.initialize(
        coordinator_address=role.coordinator_address,
        num_processes=role.num_processes,
        process_id=role.process_id,
        initialization_timeout=remaining,  # by name: the fourth positional parameter is local_device_ids
    )


# jax.distributed.initialize aborts the process (a C++ check failure, exit 134, measured with
# jax 0.10) when a process is missing at its deadline, instead of raising. So the processes
# first meet on the coordinator's port in plain TCP: process 0 listens, the others connect and
# send "<process_id> <num_processes>", and when all are there process 0 answers each "go",
# each closes its end (so no port is left in TIME_WAIT on process 0's side), and JAX's own
# coordination service then starts on that port.


def _gather(role: Role, deadline: float, timeout_s: int) -> None:
    """Process 0: wait for every other process to connect, then let them all go."""
    host, port = _host_port(role.coordinator_address)
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(("", port))
        except OSError as error:
            _refuse_join(role, f"process 0 cannot listen on port {port} ({error.strerror})", timeout_s)
        server.listen()
        arrived: dict[int, socket.socket] = {}
        try:
            while len(arrived) < role.num_processes - 1:
                server.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    connection, _ = server.accept()
                except TimeoutError:
                    missing = sorted(set(range(1, role.num_processes)) - set(arrived))
                    _refuse_join(role, f"process(es) {', '.join(map(str, missing))} did not connect", timeout_s)
                process_id, num_processes = _hello(connection, deadline)
                if num_processes != role.num_processes or process_id in arrived or not process_id:
                    connection.close()
                    _refuse_join(role, f"a process came as process {process_id} of {num_processes}", timeout_s)
                arrived[process_id] = connection
            for connection in arrived.values():
                connection.sendall(b"go\n")
            for connection in arrived.values():  # each closes first
                connection.settimeout(max(deadline - time.monotonic(), 1))
                connection.recv(16)
        finally:
            for connection in arrived.values():
                connection.close()


def _report(role: Role, deadline: float, timeout_s: int) -> None:
    """Another process: connect to process 0 until the deadline and wait for its "go"."""
    host, port = _host_port(role.coordinator_address)
    while True:
        try:
            connection = socket.create_connection((host, port), timeout=max(deadline - time.monotonic(), 0.01))
            break
        except OSError:
            if time.monotonic() > deadline:
                _refuse_join(role, f"the coordinator {role.coordinator_address} could not be reached", timeout_s)
            time.sleep(0.2)
    with connection:
        connection.sendall(f"{role.process_id} {role.num_processes}\n".encode())
        connection.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            answer = connection.recv(16)
        except TimeoutError:
            answer = b""
        if answer != b"go\n":
            _refuse_join(role, f"the coordinator {role.coordinator_address} did not let it join", timeout_s)


def _hello(connection: socket.socket, deadline: float) -> tuple[int, int]:
    connection.settimeout(max(deadline - time.monotonic(), 0.01))
    try:
        words = connection.recv(64).decode().split()
        return int(words[0]), int(words[1])
    except (OSError, ValueError, IndexError):
        return -1, -1


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _refuse_join(role: Role, problem: str, timeout_s: int) -> NoReturn:
    raise UserError(
        f"hardware=multi_host: process {role.process_id} of {role.num_processes} could not join the others "
        f"within hardware.initialization_timeout_s={timeout_s}: {problem}. Start every process within that "
        "time, each with the same hardware.coordinator_address (host:port of process 0, reachable from "
        "every host) and hardware.num_processes, and its own hardware.process_id; or raise "
        "hardware.initialization_timeout_s."
    )


def _setting(value: int | None, variables: tuple[str, ...], key: str) -> int:
    if value is not None:
        return value
    for name in variables:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    _refuse(f"hardware.{key} is null and none of {', '.join(variables)} is set")


def _refuse(problem: str) -> NoReturn:
    raise UserError(
        f"hardware=multi_host: {problem}. Start one process per host, each with the same "
        "hardware.coordinator_address=<host of process 0>:<free port> and hardware.num_processes, and "
        "its own hardware.process_id (0 on the coordinator's host); under SLURM or Open MPI, leave "
        "process_id and num_processes null to read them from the task's variables."
    )
