"""Where a run's configs come from: ktrain's own, inside the package (``ktrain/conf``), and a
user's own folder, which overlays them.

The user's folder is the one given with Hydra's ``--config-dir DIR`` (``-cd DIR``), else the
``conf/`` folder of the current directory, if there is one. Its options are found before
ktrain's: an option of the same group and name (``conf/model/simple_cnn.yaml``) replaces
ktrain's, every other option adds to the group, and new folders are new groups. Hydra's own
``--config-dir`` would search the folder after ktrain's configs, so ktrain takes the flag and
puts the folder first (``hydra_plugins/ktrain_config_search``); the folder is handed to it,
and to the processes of a sweep's jobs, in the ``KTRAIN_CONFIG_DIR`` variable.
"""

import os
import sys
from pathlib import Path

from ktrain.errors import UserError

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
USER_CONFIG_VARIABLE = "KTRAIN_CONFIG_DIR"
FLAGS = ("--config-dir", "-cd")


def take_user_config_dir(args: list[str]) -> list[str]:
    """``args`` without ``--config-dir``; the user's folder (given, or ``./conf``) is recorded
    in ``KTRAIN_CONFIG_DIR`` for the search path. ``UserError`` if a given folder is missing."""
    kept, given = [], None
    rest = iter(args)
    for arg in rest:
        flag, equals, value = arg.partition("=")
        if flag in FLAGS:
            given = value if equals else next(rest, "")
        else:
            kept.append(arg)
    folder = Path(given).expanduser() if given is not None else Path("conf")
    if given is not None and not folder.is_dir():
        raise UserError(
            f"--config-dir {given}: no such folder. Give the folder that holds your own config "
            "groups (model/, data/, experiment/, ...), or leave the flag out: a conf/ folder in the "
            "current directory is found without it."
        )
    if folder.is_dir() and folder.resolve() != CONF_DIR:
        os.environ[USER_CONFIG_VARIABLE] = str(folder.resolve())
    return kept


def user_config_dir() -> Path | None:
    """The user's config folder of this run, if it has one."""
    value = os.environ.get(USER_CONFIG_VARIABLE)
    return Path(value) if value else None


def config_dirs() -> list[Path]:
    """The folders configs are found in, the first one first."""
    return [d for d in (user_config_dir(), CONF_DIR) if d is not None]


def remembered() -> dict[str, str]:
    """What a run's record keeps of where its configs came from, so that ``resume=`` finds the
    user's folder (and the modules beside it) from wherever it is typed."""
    folder = user_config_dir()
    return {"config_dir": str(folder)} if folder is not None else {}


def recall(record: dict) -> None:
    """The user's config folder of a resumed run, where the command gives none of its own and
    the folder is still there (``remembered``)."""
    folder = record.get("config_dir")
    if user_config_dir() is None and folder and Path(folder).is_dir():
        os.environ[USER_CONFIG_VARIABLE] = folder
        import_user_modules()


def import_user_modules() -> None:
    """Let ``_target_`` name the user's own modules: those of the current directory, as
    ``python -m`` would (an installed ``ktrain-train`` starts with its own folder on the path
    instead), then those beside the user's config folder (the project that ``--config-dir``
    names from elsewhere)."""
    folders = [os.getcwd()]
    if user_config_dir() is not None:
        folders.append(str(user_config_dir().parent))
    for position, folder in enumerate(dict.fromkeys(folders)):
        if folder not in sys.path:
            sys.path.insert(position, folder)
