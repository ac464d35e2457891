"""The MLflow model registry: a run's final model (or a sweep's best job's) registered as a new
version of a named model, with an alias and tags; and ``models:/<name>@<alias>`` (or
``models:/<name>/<version>``) found again, for ``ktrain-predict``, ``ktrain-export`` and
``model.from_run``. Aliases, not stages: MLflow 3 deprecates stages.
"""

import logging
import re

from ktrain.errors import UserError
from ktrain.names import LOGGED_MODEL, MONITOR_TAG

log = logging.getLogger(__name__)
# MLflow says at INFO that it waits for each new version, which a database store makes at once.
logging.getLogger("mlflow.store.model_registry.abstract_store").setLevel(logging.WARNING)

REGISTERED_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")
RUN_TAG = "ktrain.run_id"


def is_registered_model(uri: str) -> bool:
    """Whether ``uri`` names a registered model's version (``models:/name@alias``, ``models:/name/3``)."""
    return REGISTERED_URI.match(uri) is not None


def register(client, name: str, model_id: str, run_id: str, alias: str, monitor: str, best: float) -> str:
    """Register LoggedModel ``model_id`` (of run ``run_id``) as a new version of ``name``, give
    it ``alias`` (moved from the version that had it) and tag it with the monitored metric,
    its best value and the run; return the version."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    tags = {MONITOR_TAG: monitor, f"best_{monitor}": f"{best:.6g}", RUN_TAG: run_id}
    version = client.create_model_version(name, f"models:/{model_id}", run_id=run_id, tags=tags, model_id=model_id)
    client.set_registered_model_alias(name, alias, version.version)
    log.info("mlflow: registered the model of run %s as %s version %s, alias %s", run_id, name, version.version, alias)
    return version.version


def final_model_id(client, experiment_id: str, run_id: str) -> str | None:
    """The id of run ``run_id``'s final model (its LoggedModel named ``model``); None if it has none."""
    models = client.search_logged_models(
        [experiment_id], filter_string=f"source_run_id = '{run_id}' AND name = '{LOGGED_MODEL}'", max_results=1
    )
    return models[0].model_id if models else None


def find_version(client, uri: str, tracking_uri: str):
    """The model version ``uri`` names; ``UserError`` naming what the registry holds if none."""
    from mlflow.exceptions import MlflowException

    match = REGISTERED_URI.match(uri)
    name, alias, number = match["name"], match["alias"], match["version"]
    try:
        return client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, number)
    except MlflowException:
        log.debug("no model version %s", uri, exc_info=True)
    try:
        known = client.get_registered_model(name)
    except MlflowException:
        names = [model.name for model in client.search_registered_models(max_results=20)]
        held = f"the registered models there: {', '.join(names)}" if names else "it holds no registered model"
        raise UserError(
            f"{uri}: the model registry at {tracking_uri} has no model named {name!r} ({held}). Register one "
            "with mlflow.register=<name> when training, or point MLFLOW_TRACKING_URI (mlflow.tracking_uri=) "
            "at the registry that holds it."
        ) from None
    aliases = ", ".join(f"@{a}" for a in sorted(known.aliases)) or "none"
    latest = max((int(v.version) for v in known.latest_versions), default=0)
    raise UserError(
        f"{uri}: the registered model {name!r} has no {'alias @' + alias if alias else 'version ' + number} "
        f"(its aliases: {aliases}; its latest version: {latest}). Give one of them, models:/{name}/<version>, "
        f"or move an alias with mlflow.MlflowClient().set_registered_model_alias({name!r}, <alias>, <version>)."
    )
