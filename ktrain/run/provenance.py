"""Where a run comes from, as the tags it is recorded with: versions, the command line, the git
commit of the project; and the KerasHub preset its model starts from."""

import subprocess
import sys

import keras
from hydra.core.hydra_config import HydraConfig

import ktrain
from ktrain.names import (
    GIT_COMMIT_TAG,
    KERAS_BACKEND_TAG,
    KERAS_VERSION_TAG,
    OVERRIDES_TAG,
    PRESET_DIGEST_TAG,
    PRESET_TAG,
    RESUMED_WITH_TAG,
    TENSORFLOW_VERSION_TAG,
    VERSION_TAG,
)
from ktrain.schema import TrainConfig


def run_tags(root_dir: str, resumed: bool) -> dict[str, str]:
    """Versions, the overrides (``ktrain.resumed_with`` on a resumed run) and the git commit
    of ``root_dir``."""
    tags = {
        VERSION_TAG: ktrain.__version__,
        KERAS_VERSION_TAG: keras.__version__,
        KERAS_BACKEND_TAG: keras.backend.backend(),
    }
    if sys.modules.get("tensorflow"):  # imported (None marks a blocked import)
        tags[TENSORFLOW_VERSION_TAG] = sys.modules["tensorflow"].__version__
    if HydraConfig.initialized():
        tags[RESUMED_WITH_TAG if resumed else OVERRIDES_TAG] = " ".join(HydraConfig.get().overrides.task)
    commit = git_commit(root_dir)
    if commit:
        tags[GIT_COMMIT_TAG] = commit
    return tags


def git_commit(directory: str) -> str | None:
    """The commit checked out in ``directory``; None outside a git checkout."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


KERAS_HUB = "ktrain.models.hub.keras_hub"


def preset_record(config: TrainConfig) -> tuple[dict[str, str], dict[str, str]]:
    """The params (``model.found.preset_path``, ``_digest``, ``_class``) and tags
    (``ktrain.preset``, ``ktrain.preset.digest``) of the KerasHub preset the model started from;
    none for other models."""
    if config.model.target != KERAS_HUB:
        return {}, {}
    from ktrain.models import presets  # the preset is in place: the model was built from it

    handle = config.model["preset"]
    found = presets.identity(presets.locate(handle))
    params = {f"model.found.{key}": value for key, value in found.items()}
    return params, {PRESET_TAG: handle, PRESET_DIGEST_TAG: found["preset_digest"]}
