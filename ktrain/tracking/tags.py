"""A run's tags read, set and deleted on their own, outside an active run: the heartbeat tag
that ``ktrain.resume.holder`` keeps, say."""

import logging

log = logging.getLogger(__name__)


def run_tag(tracking_uri: str, run_id: str, key: str) -> str | None:
    """The value of tag ``key`` of the run, or None."""
    from mlflow import MlflowClient  # a second of startup: only once a tag is read

    return MlflowClient(tracking_uri).get_run(run_id).data.tags.get(key)


def set_run_tag(tracking_uri: str, run_id: str, key: str, value: str) -> None:
    from mlflow import MlflowClient

    MlflowClient(tracking_uri).set_tag(run_id, key, value)


def delete_run_tag(tracking_uri: str, run_id: str, key: str) -> None:
    from mlflow import MlflowClient

    MlflowClient(tracking_uri).delete_tag(run_id, key)
