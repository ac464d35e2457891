"""``--help`` for ktrain's scripts, in about half the time of Hydra's own.

Hydra's help fills in every variable of its template eagerly, including the options of
Hydra's own groups (launchers, sweepers, logging), and finding those copies the config
repository once per group: about a second on a laptop, for a listing the template does not
even print. This renders the same ``hydra.help.template`` from the composed config and a
listing of the config folders; ``--hydra-help`` is still Hydra's. ``$COMMAND`` in the template
is the command as the user runs it (``ktrain-train`` or ``python train.py``).
"""

import string

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from ktrain.cli.config_search import CONF_DIR, config_dirs
from ktrain.names import command

HYDRA_HELP_HINT = "(--hydra-help lists Hydra's own groups and flags)"


def render_help(config_name: str, overrides: list[str]) -> str:
    """The help text of ``config_name`` composed with ``overrides``, as Hydra's template says."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name=config_name):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    template = cfg.hydra.help.template
    with open_dict(cfg):
        del cfg["hydra"]
    return string.Template(template).safe_substitute(
        APP_CONFIG_GROUPS=config_groups(),
        HYDRA_CONFIG_GROUPS=HYDRA_HELP_HINT,
        FLAGS_HELP=HYDRA_HELP_HINT,
        CONFIG=OmegaConf.to_yaml(cfg),
        COMMAND=command(config_name),
    )


def config_groups() -> str:
    """``group: option, option`` per group of the config folders (a user's and ktrain's),
    Hydra's own groups left out."""
    groups: dict[str, set[str]] = {}
    for folder in config_dirs():
        for group in folder.iterdir():
            if group.is_dir() and group.name != "hydra":
                groups.setdefault(group.name, set()).update(path.stem for path in group.glob("*.yaml"))
    return "".join(f"{name}: {', '.join(sorted(options))}\n" for name, options in sorted(groups.items()))
