"""Can the run be recorded where ``mlflow.tracking_uri`` says? Asked before TensorFlow loads:
MLflow itself would find out only when the run starts, after retrying for minutes, or, for a
server that goes away, at the end of training."""

import socket
import urllib.error
import urllib.request
from importlib.metadata import entry_points
from urllib.parse import urlparse

from ktrain.errors import UserError

# The schemes MLflow's own tracking stores take (mlflow/tracking/_tracking_service/utils.py);
# plugins add theirs through the "mlflow.tracking_store" entry points. "" is a local path.
DATABASES = ("postgresql", "mysql", "mssql")  # MLflow reaches them through SQLAlchemy (SQLite's is built in)
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
# The pip package of each database driver module whose name differs from it.
DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient",
                   "pymysql": "PyMySQL", "pg8000": "pg8000"}  # fmt: skip
MLFLOW_SCHEMES = (
    "",
    "file",
    "sqlite",
    "postgresql",
    "mysql",
    "mssql",
    "http",
    "https",
    "databricks",
    "databricks-uc",
    "uc",
)


def check_tracking_server(tracking_uri: str, timeout_s: float = 5.0) -> None:
    """``UserError`` if ``tracking_uri`` has a scheme no MLflow store takes, or is an http(s)
    address that does not answer."""
    scheme = urlparse(tracking_uri).scheme.partition("+")[0]  # postgresql+psycopg2 -> postgresql
    if scheme not in MLFLOW_SCHEMES and scheme not in _plugin_schemes():
        raise UserError(
            f"mlflow.tracking_uri={tracking_uri}: MLflow records runs in no store of the scheme "
            f"{scheme!r}. Give a local store (sqlite:///path/to/mlflow.db, or a folder), a database "
            "(postgresql://, mysql://, mssql://), a tracking server (http:// or https://) or "
            "databricks; or leave mlflow.tracking_uri and MLFLOW_TRACKING_URI unset to record into "
            "the local store outputs/mlflow.db."
        )
    if scheme in DATABASES:
        _check_database_driver(tracking_uri)
        _check_database_answers(tracking_uri, scheme, timeout_s)
    if scheme not in ("http", "https"):
        return
    try:
        urllib.request.urlopen(tracking_uri.rstrip("/") + "/health", timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return  # it answered; what it said is for MLflow's client to report
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise UserError(
            f"mlflow.tracking_uri={tracking_uri} does not answer ({reason}), so the run was not "
            "started. Start the server (mlflow server --host 127.0.0.1 --port 5000 "
            "--backend-store-uri sqlite:///outputs/mlflow.db), fix the address (mlflow.tracking_uri= "
            "or the MLFLOW_TRACKING_URI variable), or leave both unset to record into the local "
            "store outputs/mlflow.db."
        ) from None


def check_registry(tracking_uri: str, name: str, timeout_s: float = 5.0) -> None:
    """``UserError`` if ``mlflow.register=name`` cannot be honoured at ``tracking_uri``: the plain
    file store (MLflow keeps it in maintenance and records no new kind of entity in it), or a
    tracking server that has no registry's search to answer (404, 501)."""
    scheme = urlparse(tracking_uri).scheme.partition("+")[0]
    if scheme in ("", "file"):
        raise UserError(
            f"mlflow.register={name}: the tracking store {tracking_uri} is MLflow's plain file store, which "
            "has no model registry for ktrain to use (MLflow keeps it in maintenance mode), so the run was "
            "not started. Record into a database (mlflow.tracking_uri=sqlite:///outputs/mlflow.db, the "
            "default, or postgresql://...) or a tracking server (http://...), or drop mlflow.register."
        )
    if scheme not in ("http", "https"):
        return
    search = tracking_uri.rstrip("/") + "/api/2.0/mlflow/registered-models/search?max_results=1"
    try:
        urllib.request.urlopen(search, timeout=timeout_s).close()
    except urllib.error.HTTPError as error:
        if error.code not in (404, 501):  # a server asking for credentials answers 401: MLflow's client has them
            return
        raise UserError(
            f"mlflow.register={name}: the tracking server {tracking_uri} has no model registry to use (its "
            f"registry answered {error.code} {error.reason}), so the run was not started. Start it on a "
            "database store (mlflow server --backend-store-uri sqlite:///mlflow.db ...), or drop mlflow.register."
        ) from None
    except (urllib.error.URLError, OSError):
        return  # check_tracking_server tells of a server that does not answer


def _check_database_driver(tracking_uri: str) -> None:
    """``UserError`` naming the package to install if the database's Python driver is missing
    (SQLAlchemy, which MLflow's database stores use, knows which driver a URI needs)."""
    from sqlalchemy.engine.url import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(tracking_uri).get_dialect().import_dbapi()
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        raise UserError(
            f"mlflow.tracking_uri={tracking_uri} is not a database address SQLAlchemy reads ({error})."
        ) from None
    except ImportError as error:
        package = DRIVER_PACKAGES.get(error.name, error.name)
        raise UserError(
            f"mlflow.tracking_uri={tracking_uri} needs the Python database driver {error.name!r}, which is not "
            f"installed: pip install '{package}'"
            + (" (or pip install 'ktrain-hydra[postgresql]')" if error.name == "psycopg" else "")
            + ". The run was not started."
        ) from None


def _check_database_answers(tracking_uri: str, scheme: str, timeout_s: float) -> None:
    """``UserError`` if nothing listens at the database's host and port: MLflow would retry
    creating its engine nine times and end in the driver's traceback."""
    from sqlalchemy.engine.url import make_url

    url = make_url(tracking_uri)
    if not url.host:  # a local socket: the driver tells
        return
    port = url.port or DEFAULT_PORTS[scheme]
    try:
        socket.create_connection((url.host, port), timeout=timeout_s).close()
    except OSError as error:
        raise UserError(
            f"mlflow.tracking_uri={url.render_as_string(hide_password=True)}: no database answers at "
            f"{url.host}:{port} ({error.strerror or error}), so the run was not started. Start the database, "
            "fix the address (mlflow.tracking_uri= or the MLFLOW_TRACKING_URI variable), or leave both "
            "unset to record into the local store outputs/mlflow.db."
        ) from None
    _check_database_login(tracking_uri)


def _check_database_login(tracking_uri: str) -> None:
    """``UserError`` if the database answers but refuses the connection (a user, a password or
    a database it does not know): MLflow, too, would retry nine times and end in the driver's
    traceback."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(tracking_uri, poolclass=sqlalchemy.pool.NullPool)
    try:
        engine.connect().close()
    except sqlalchemy.exc.DBAPIError as error:
        reason = " ".join(str(error.orig).split())
        raise UserError(
            f"mlflow.tracking_uri={engine.url.render_as_string(hide_password=True)}: the database refused the "
            f"connection ({reason}), so the run was not started. Fix the user, password or database name in the "
            "URI (mlflow.tracking_uri= or the MLFLOW_TRACKING_URI variable), create the database (createdb), or "
            "leave both unset to record into the local store outputs/mlflow.db."
        ) from None
    finally:
        engine.dispose()


def _plugin_schemes() -> set[str]:
    return {entry.name for entry in entry_points(group="mlflow.tracking_store")}
