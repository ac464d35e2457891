"""``hydra.main`` for ktrain's scripts, with Hydra's composition errors told as one paragraph.

Hydra refuses an unknown key or group option before any of our code runs, and its message
does not list what is allowed. ``main`` asks Hydra to raise instead of print
(``HYDRA_FULL_ERROR``), and rewrites those errors with the allowed keys or options and the
nearest allowed name. A user who sets ``HYDRA_FULL_ERROR`` themselves gets Hydra's own output.

A script starts with the garbage collector off and turns it on when its long work begins
(``startup_done``), and freezes what is left before the interpreter exits: both spare the
collector's passes over the millions of objects that TensorFlow and MLflow make.
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
from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from ktrain.config_search import CONF_DIR, config_dirs, import_user_modules, take_user_config_dir
from ktrain.errors import UserError, exit_on_user_error, refuse
from ktrain.help import render_help
from ktrain.resume import hydra_args
from ktrain.schema.keywords import suggestion, supplied
from ktrain.schema.messages import allowed_keys

log = logging.getLogger(__name__)

# ktrain's hydra/launcher/ray.yaml has the name of hydra-ray-launcher's own config on purpose,
# so that the plugin's schema checks its keys; Hydra 1.3 warns that this matching by name is
# deprecated, to every user, on every sweep.
warnings.filterwarnings("ignore", message="\\s*'hydra/launcher/ray' is validated against ConfigStore schema")

_startup = False  # whether a script's entry paused the garbage collector


def main(config_name: str) -> Callable[[Callable[[Any], Any]], Callable[[], Any]]:
    """Decorate a script's task function like ``hydra.main`` on ktrain's configs, which a
    user's own config folder overlays (``ktrain.config_search``)."""

    def decorate(task: Callable[[Any], Any]) -> Callable[[], Any]:
        hydra_task = hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=config_name)(task)

        @functools.wraps(task)
        def entry() -> Any:
            _pause_garbage_collection()
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
            except UserError as error:  # refused by the sweep callback, before any job (ktrain.search.checks)
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


def _pause_garbage_collection() -> None:
    """Start a script with Python's garbage collector off, until ``startup_done``.

    Importing TensorFlow, Keras and MLflow creates millions of objects that live as long as
    the process, and each of the collector's full passes walks all of them again: about ten
    passes, 1.5 to 2 s on 2 cores, before the first epoch. Startup makes little cyclic garbage.
    """
    global _startup
    if gc.isenabled():
        gc.disable()
        _startup = True


def startup_done() -> None:
    """The script's long work begins (training, predicting): turn the collector back on, with
    every object made so far frozen, so that its passes skip them. Does nothing outside a
    script's startup: a caller's own setting of ``gc`` stays as it is."""
    global _startup
    if _startup:
        gc.freeze()
        gc.enable()
        _startup = False


def expand_home(arg: str) -> str:
    """``key=~/path`` -> ``key=/home/me/path``: the shell leaves a ``~`` after ``key=`` alone,
    and Hydra's override grammar refuses a value that starts with one."""
    key, is_override, value = arg.partition("=")
    if not is_override or key.startswith("-") or not (value == "~" or value.startswith("~/")):
        return arg
    return f"{key}={os.path.expanduser(value)}"


def explain_file_error(error: OSError) -> str:
    """One paragraph for a file that could not be written or read, such as the run dir."""
    return (
        f"cannot use {error.filename}: {error.strerror}. A run writes its dir (hydra.run.dir, by "
        "default outputs/<date>/<time> under the current directory; hydra.sweep.dir for -m) and "
        "the local MLflow store (outputs/mlflow.db unless mlflow.tracking_uri says otherwise); "
        "run from a directory you can write to, or point those at one, e.g. "
        "hydra.run.dir=/tmp/my-run. If the run had started, it is recorded FAILED in MLflow "
        "and its train.log holds the traceback."
    )


def _print_help(config_name: str) -> None:
    overrides = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    try:
        print(render_help(config_name, overrides))
    except HydraException as error:
        refuse(explain(error, overrides, config_name))


def _refuse_mixed_modes(args: list[str]) -> None:
    """Hydra's own refusal of ``-m`` beside ``--cfg`` (or ``--info``) is a traceback."""
    printing = [arg for arg in args if arg in ("--cfg", "-c", "--info", "-i")]
    if printing and {"-m", "--multirun"} & set(args):
        refuse(
            f"-m and {printing[0]} cannot be given together: {printing[0]} prints the config of one "
            "job and runs nothing. Drop -m to print it (a sweep's own settings, such as its sweeper, "
            f"are in --cfg hydra), or drop {printing[0]} to run the sweep."
        )


def _prepare_resume() -> None:
    """``resume=<run dir>`` decides where Hydra runs the job, so it is read before Hydra."""
    if any(arg.startswith("resume=") for arg in sys.argv[1:]):
        with exit_on_user_error():
            sys.argv[1:] = hydra_args(sys.argv[1:])


def explain(error: HydraException, overrides: list[str], config_name: str = "train") -> str:
    """One paragraph for a Hydra error: the key or option, the bad value, what is allowed."""
    if isinstance(error, MissingConfigException) and error.options and error.missing_cfg_file:
        group, _, option = error.missing_cfg_file.rpartition("/")
        allowed = ", ".join(sorted(error.options))
        return f"Invalid config: {group}={option} is not an option of {group} (allowed: {allowed})."
    cause = error.__cause__
    if isinstance(error, ConfigCompositionException) and isinstance(cause, ConfigKeyError | ConfigAttributeError):
        return _unknown_key(cause, overrides, config_name)
    lines = [str(error)] + ([str(cause)] if cause is not None else [])
    return " ".join(" ".join(lines).split())


def _unknown_key(cause: ConfigKeyError | ConfigAttributeError, overrides: list[str], config_name: str) -> str:
    """A key the composed config lacks: one ktrain passes itself, one the node allows (it needs
    a leading +), or an unknown one, told with the nearest allowed name and all of them."""
    key = cause.full_key
    unchosen = _unchosen_group(key, overrides)
    if unchosen:
        return unchosen
    given = next((o for o in overrides if o.lstrip("+~").split("=", 1)[0] == key), key)
    path, _, name = key.rpartition(".")
    refused = supplied(key) if config_name == "train" else None
    if refused:
        return f"Invalid config: {refused}."
    parent = cause.parent_node
    # The whole config: a nested key's allowed keys depend on its group's _target_.
    config = OmegaConf.to_container(parent._get_root(), resolve=False) if parent is not None else {}
    keys, open_ended = allowed_keys(path, config, config_name)
    where = path or "the top level"
    if name in keys:
        return (
            f"Invalid config: {given} sets {key}, which {where} allows but this config does not "
            f"set yet; add it with a leading +: +{given.lstrip('+')}."
        )
    near = suggestion(name, keys)
    hint = f" (did you mean {near}?)" if near else ""
    allowed = ", ".join(keys) if keys else "no keys"
    more = " (and any other keyword argument of its _target_, added with a leading +)" if open_ended else ""
    return f"Invalid config: {given} names an unknown key {key!r}{hint}; {where} takes: {allowed}{more}."


def _unchosen_group(key: str, overrides: list[str]) -> str | None:
    """For a key below a group that the config has not chosen an option of (``fine_tune`` is
    null by default), the option to choose first; None for any other key."""
    options = sorted({path.stem for folder in config_dirs() for path in (folder / key).glob("*.yaml")})
    given = next((o for o in overrides if o.lstrip("+").startswith(f"{key}.")), None)
    if "." in key or not options or given is None:
        return None
    return (
        f"Invalid config: {given} sets a key of the group {key}, of which this config has chosen no "
        f"option; choose one first: {key}={options[0]} {given.lstrip('+')} (the options of {key}: "
        f"{', '.join(options)})."
    )
