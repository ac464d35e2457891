"""``hydra.main`` for ktrain's commands: a user's config folder, ``--help``, ``resume=`` and
Hydra's errors handled before and around Hydra.

Hydra refuses an unknown key or group option before any of our code runs, and its message
does not list what is allowed. ``main`` asks Hydra to raise instead of print
(``HYDRA_FULL_ERROR``), and ``hydra_errors.explain`` rewrites those errors with the allowed
keys or options and the nearest allowed name. A user who sets ``HYDRA_FULL_ERROR`` themselves
gets Hydra's own output.

A command starts with the garbage collector off and turns it on when its long work begins
(``startup``), and freezes what is left before the interpreter exits.
"""

import functools
import gc
import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import hydra
import yaml
from hydra.errors import HydraException

from ktrain import overrides as command_line
from ktrain.cli.config_search import CONF_DIR, import_user_modules, take_user_config_dir
from ktrain.cli.help import render_help
from ktrain.cli.hydra_errors import explain, explain_file_error, explain_yaml_error
from ktrain.cli.startup import pause_garbage_collection
from ktrain.errors import UserError, exit_on_user_error, refuse
from ktrain.names import COMMAND_STYLE_VARIABLE, command_style
from ktrain.tracking import quiet_mlflow_console

log = logging.getLogger(__name__)

# ktrain's hydra/launcher/ray.yaml has the name of hydra-ray-launcher's own config on purpose,
# so that the plugin's schema checks its keys; Hydra 1.3 warns that this matching by name is
# deprecated, to every user, on every sweep.
warnings.filterwarnings("ignore", message="\\s*'hydra/launcher/ray' is validated against ConfigStore schema")


def hydra_main(config_name: str) -> Callable[[Callable[[Any], Any]], Callable[[], Any]]:
    """Decorate a script's task function like ``hydra.main`` on ktrain's configs, which a
    user's own config folder overlays (``ktrain.cli.config_search``)."""

    def decorate(task: Callable[[Any], Any]) -> Callable[[], Any]:
        hydra_task = hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=config_name)(task)

        @functools.wraps(task)
        def entry() -> Any:
            pause_garbage_collection()
            # For the processes the command starts: a sweep's workers, a cluster's jobs.
            os.environ[COMMAND_STYLE_VARIABLE] = command_style(sys.argv[0])
            quiet_mlflow_console()  # the downloads of a resume by run id, of a sweep's jobs
            try:
                return run_script()
            finally:
                # The script is done: its run recorded, its files closed. What is left is the
                # interpreter's exit, whose last garbage collections walk every object that
                # TensorFlow and MLflow made, 1.5 to 2.5 s on 2 cores for nothing; frozen objects
                # are skipped (exit handlers still run, threads are still joined).
                gc.freeze()

        def run_script() -> Any:
            sys.argv[1:] = [expand_home(arg) for arg in sys.argv[1:]]
            with exit_on_user_error():
                sys.argv[1:] = take_user_config_dir(sys.argv[1:])
            import_user_modules()
            if {"--help", "-h"} & set(sys.argv[1:]):
                return _print_help(config_name)
            _refuse_mixed_modes(sys.argv[1:])
            if config_name == "train":
                _prepare_resume()
            if "HYDRA_FULL_ERROR" in os.environ:
                return hydra_task()
            os.environ["HYDRA_FULL_ERROR"] = "1"
            try:
                return hydra_task()
            except HydraException as error:
                refuse(explain(error, sys.argv[1:], config_name))
            except yaml.YAMLError as error:  # a config file of the user's own, Hydra does not catch it
                log.debug("config file is not YAML", exc_info=True)
                refuse(explain_yaml_error(error))
            except UserError as error:  # refused by the sweep callback, before any job (sweeps.search.checks)
                log.debug("refused input", exc_info=True)
                refuse(str(error))
            except OSError as error:
                if error.filename is None:
                    raise
                log.debug("file system error", exc_info=True)
                refuse(explain_file_error(error))
            finally:
                del os.environ["HYDRA_FULL_ERROR"]

        return entry

    return decorate


def expand_home(arg: str) -> str:
    """``key=~/path`` -> ``key=/home/me/path``: the shell leaves a ``~`` after ``key=`` alone,
    and Hydra's override grammar refuses a value that starts with one."""
    override = command_line.parse(arg)
    value = override.value if override else None
    if value is None or not (value == "~" or value.startswith("~/")):
        return arg
    return f"{arg.removesuffix(value)}{os.path.expanduser(value)}"


def _print_help(config_name: str) -> None:
    overrides = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    try:
        print(render_help(config_name, overrides))
    except HydraException as error:
        refuse(explain(error, overrides, config_name))
    except yaml.YAMLError as error:
        refuse(explain_yaml_error(error))


def _refuse_mixed_modes(args: list[str]) -> None:
    """Hydra's own refusal of ``-m`` beside ``--cfg`` (or ``--info``) is a traceback."""
    printing = [arg for arg in args if arg in ("--cfg", "-c", "--info", "-i")]
    if printing and command_line.is_multirun(args):
        refuse(
            f"-m and {printing[0]} cannot be given together: {printing[0]} prints the config of one "
            "job and runs nothing. Drop -m to print it (a sweep's own settings, such as its sweeper, "
            f"are in --cfg hydra), or drop {printing[0]} to run the sweep."
        )


def _prepare_resume() -> None:
    """``resume=<run dir>`` decides where Hydra runs the job, and ``-m resume=<sweep dir>`` the
    sweep's overrides, so they are read before Hydra."""
    given = command_line.last(sys.argv[1:], "resume")
    if given is None or given.value in ("", "null"):
        return
    with exit_on_user_error():
        if command_line.is_multirun(sys.argv[1:]):
            from ktrain.sweeps import continued

            sys.argv[1:] = continued.hydra_args(given.value, sys.argv[1:])
        else:
            from ktrain.resume import saved_run

            sys.argv[1:] = saved_run.hydra_args(given.value, sys.argv[1:])
