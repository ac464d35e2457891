"""Is the tracking server there? Asked before TensorFlow loads: MLflow itself would find
out only when the run starts, after retrying for minutes, or, for a server that goes
away, at the end of training."""

import urllib.error
import urllib.request

from ktrain.errors import UserError


def check_tracking_server(tracking_uri: str, timeout_s: float = 5.0) -> None:
    """``UserError`` if ``tracking_uri`` is an http(s) address that does not answer."""
    if not tracking_uri.startswith(("http://", "https://")):
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
