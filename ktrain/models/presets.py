"""KerasHub presets found before they are loaded, and refused in one paragraph where they can be
neither found nor fetched; and a preset's identity, which the run records.

``model.preset`` is a local folder (what ``save_to_preset`` writes), a ``kaggle://`` or ``hf://``
handle, or a KerasHub preset name (a Kaggle handle in KerasHub's list). KerasHub's
``from_preset`` downloads through kagglehub and huggingface_hub, which on a machine without
network retry, hang or end in a traceback (and kagglehub asks Kaggle for the newest version of
an unversioned handle before it looks in its cache). ``locate`` looks first: a folder, or a copy
in kagglehub's or huggingface_hub's cache, is loaded from where it is, with no network access; a
preset in neither is downloaded by KerasHub only if its hub answers within a few seconds.

``identity`` is the preset's record: its folder, a digest of its files (each file's SHA-256 kept
in ktrain's cache by its path, size and modification time, so a large preset is read once),
and its backbone's class.
"""

import hashlib
import json
import os
from dataclasses import dataclass

from ktrain.data.checked_files import FileRecord
from ktrain.errors import UserError
from ktrain.models.pretrained import unreachable

KAGGLE, HUGGING_FACE = "kaggle://", "hf://"
KAGGLE_SITE = "https://www.kaggle.com"
CONFIG = "config.json"  # every preset format KerasHub reads has one
FORMS = (
    "a KerasHub preset name (bert_tiny_en_uncased, resnet_18_imagenet, ...: keras_hub.models.Backbone.presets "
    "lists them), a kaggle://<owner>/<model>/keras/<variation>[/<version>] or hf://<owner>/<name> handle, or a "
    "local folder that save_to_preset wrote"
)


@dataclass(frozen=True)
class Located:
    """A preset as given (``handle``), and the local folder that holds it (None: not here yet,
    and its hub answers: KerasHub downloads it)."""

    handle: str
    path: str | None

    @property
    def load_from(self) -> str:
        """What ``from_preset`` is given: the folder where there is one, else the handle."""
        return self.path or self.handle


def locate(preset: str) -> Located:
    """Where ``preset`` is (see the module), or ``UserError`` saying where to put it."""
    if "://" not in preset:
        folder = os.path.expanduser(preset)
        if os.path.isdir(folder):
            if not os.path.isfile(os.path.join(folder, CONFIG)):
                raise UserError(
                    f"model.preset={preset!r} is a folder without {CONFIG}, not a KerasHub preset; give {FORMS}."
                )
            return Located(preset, folder)
        if preset.startswith((os.sep, ".", "~")) or os.sep in preset:
            raise UserError(f"model.preset={preset!r}: no such folder; give {FORMS}.")
        return _kaggle(preset, _builtin_handle(preset))
    if preset.startswith(KAGGLE):
        return _kaggle(preset, preset)
    if preset.startswith(HUGGING_FACE):
        return _hugging_face(preset)
    raise UserError(f"model.preset={preset!r}: ktrain reads no {preset.split('://')[0]}:// handles; give {FORMS}.")


def identity(located: Located) -> dict[str, str]:
    """What the run records of a preset: the folder it was loaded from, a digest of its files
    (16 hex digits) and its backbone's class; its folder is looked up again where KerasHub
    downloaded it."""
    path = located.path or locate(located.handle).path
    if path is None:
        return {"preset_path": "", "preset_digest": "", "preset_class": ""}
    files = sorted(
        os.path.join(parent, name)
        for parent, subdirs, names in os.walk(path, followlinks=True)
        for name in names
        if not name.startswith(".")
    )
    sums, _ = FileRecord(path, "preset_digests").values(files, lambda unknown: {f: _sha256(f) for f in unknown})
    hashed = hashlib.sha256(json.dumps([(os.path.relpath(f, path), sums[f]) for f in files]).encode())
    with open(os.path.join(path, CONFIG)) as file:
        config = json.load(file)
    kind = config.get("registered_name") or config.get("model_type") or config.get("architecture") or ""
    return {"preset_path": os.path.abspath(path), "preset_digest": hashed.hexdigest()[:16], "preset_class": kind}


def _sha256(path: str) -> str:
    hashed = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            hashed.update(block)
    return hashed.hexdigest()


def _builtin_handle(name: str) -> str:
    """The Kaggle handle of KerasHub's preset ``name``."""
    import keras_hub  # the list of KerasHub's presets; the run imports it to build the model anyway

    known = keras_hub.models.Backbone.presets.get(name)
    if known is None:
        raise UserError(f"model.preset={name!r} is not a KerasHub preset name, a handle or a folder; give {FORMS}.")
    return known["kaggle_handle"]


def _kaggle(given: str, handle: str) -> Located:
    """A Kaggle handle from kagglehub's cache (the newest version there, for a handle without
    one), or to be downloaded where Kaggle answers."""
    from kagglehub.config import get_cache_folder

    parts = handle.removeprefix(KAGGLE).split("/")
    if len(parts) not in (4, 5) or not all(parts) or (len(parts) == 5 and not parts[4].isdigit()):
        raise UserError(f"model.preset={given!r} is not a Kaggle model handle; give {FORMS}.")
    base = os.path.join(get_cache_folder(), "models", *parts[:4])
    versions = [parts[4]] if len(parts) == 5 else _versions(base)
    for version in versions:
        if os.path.isfile(os.path.join(base, version, CONFIG)):
            return Located(given, os.path.join(base, version))
    reason = unreachable(KAGGLE_SITE, any_answer=True)
    if reason is None:
        return Located(given, None)
    where = os.path.join(base, parts[4] if len(parts) == 5 else "<version>")
    named = f"model.preset={given!r}" + (f" ({handle})" if handle != given else "")
    raise UserError(
        f"{named} is not in kagglehub's cache and cannot be downloaded from "
        f"{KAGGLE_SITE} ({reason}). Download it where the network is reachable "
        f"(kagglehub.model_download({'/'.join(parts)!r})) and put the folder it gives at {where} "
        "(KAGGLEHUB_CACHE, ~/.cache/kagglehub unless set), or give model.preset=<that folder>."
    )


def _versions(base: str) -> list[str]:
    try:
        return sorted((v for v in os.listdir(base) if v.isdigit()), key=int, reverse=True)
    except OSError:
        return []


def _hugging_face(given: str) -> Located:
    """A Hugging Face handle from huggingface_hub's cache, or to be downloaded where the Hub answers."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    repo = given.removeprefix(HUGGING_FACE)
    try:
        folder = snapshot_download(repo, local_files_only=True)
    except LocalEntryNotFoundError:
        folder = None
    except HFValidationError as error:
        raise UserError(f"model.preset={given!r} is not a Hugging Face handle ({error}); give {FORMS}.") from error
    if folder and os.path.isfile(os.path.join(folder, CONFIG)):
        return Located(given, folder)
    reason = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else unreachable(constants.ENDPOINT, any_answer=True)
    if reason is None:
        return Located(given, None)
    raise UserError(
        f"model.preset={given!r} is not in Hugging Face's cache ({constants.HF_HUB_CACHE}) and cannot be "
        f"downloaded from {constants.ENDPOINT} ({reason}). Download it where the network is reachable, into "
        f"that cache (hf download {repo}; copy the cache's models--{repo.replace('/', '--')} folder here) or "
        "into a folder (hf download --local-dir DIR), and give model.preset=DIR."
    )
