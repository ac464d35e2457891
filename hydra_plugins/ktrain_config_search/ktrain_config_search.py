"""Puts a ktrain user's own config folder first on Hydra's config search path.

A plugin, because Hydra's ``--config-dir`` searches its folder after the application's own
configs, so a user's option could not replace one of ktrain's (see ktrain.cli.config_search).
"""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from ktrain.cli.config_search import user_config_dir


class KtrainConfigSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        folder = user_config_dir()
        if folder is not None:
            search_path.prepend("ktrain-user", f"file://{folder}")
