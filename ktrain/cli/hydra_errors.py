"""Hydra's composition errors and file-system errors, told as one paragraph.

Hydra refuses an unknown key or group option before any of our code runs, and its message
does not list what is allowed. ``explain`` rewrites those errors with the allowed keys or
options and the nearest allowed name.
"""

import re
from pathlib import Path

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException, OverrideParseException
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from ktrain import overrides as command_line
from ktrain.cli.config_search import config_dirs, user_config_dir
from ktrain.names import command
from ktrain.schema.keywords import suggestion, supplied
from ktrain.schema.messages import allowed_keys, node_at, open_mapping


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


def explain_yaml_error(error: yaml.YAMLError) -> str:
    """One paragraph for a config file that is not valid YAML: the file, line and column (1-based)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is None:
        return f"a config file is not valid YAML: {' '.join(str(error).split())}."
    problem = getattr(error, "problem", None) or "invalid YAML"
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and context_mark is not None and context_mark is not mark:
        problem += f" ({context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
    return (
        f"the config file {_shown(mark.name)} is not valid YAML: line {mark.line + 1}, column "
        f"{mark.column + 1}: {problem}. Fix the file there (a key is followed by a colon and a space, "
        "nesting is by indentation of spaces, a list is [a, b] or one '- item' per line) and run "
        "the command again."
    )


def _shown(path: str) -> str:
    """``path`` relative to the current directory where it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def explain(error: HydraException, overrides: list[str], config_name: str = "train") -> str:
    """One paragraph for a Hydra error: the key or option, the bad value, what is allowed."""
    if isinstance(error, MissingConfigException) and error.missing_cfg_file:
        group, _, option = error.missing_cfg_file.rpartition("/")
        options = error.options or _options_of(group)  # Hydra gives none for an option inside a list
        if options:
            allowed = ", ".join(sorted(options))
            # An experiment is the user's own, as a rule: say where their configs were looked for.
            mine = group == "experiment" and not user_config_dir()
            own = " No config folder of your own was found (./conf, or --config-dir DIR)." if mine else ""
            return f"Invalid config: {group}={option} is not an option of {group} (allowed: {allowed}).{own}"
    if isinstance(error, OverrideParseException):
        return _unparsed(error, overrides)
    deleted = re.search(r"Could not delete from config\. '(.+)' does not exist", str(error))
    if deleted:
        return _not_there_to_delete(deleted[1], config_name)
    cause = error.__cause__
    if isinstance(error, ConfigCompositionException) and isinstance(cause, ConfigKeyError | ConfigAttributeError):
        return _unknown_key(cause, overrides, config_name)
    lines = [str(error)] + ([str(cause)] if cause is not None else [])
    return " ".join(" ".join(lines).split())


def _options_of(group: str) -> set[str]:
    """The options of ``group`` in the config folders (a user's and ktrain's)."""
    return {path.stem for folder in config_dirs() for path in (folder / group).glob("*.yaml")}


def _not_there_to_delete(key: str, config_name: str) -> str:
    """``~callbacks.reduce_lrr``: a group's keys are named after its options (a callback's)."""
    group, _, name = key.partition(".")
    names = sorted(_options_of(group) - {"default"}) if name else []
    near = suggestion(name, names) if names else None
    return (
        f"Invalid config: ~{key} deletes {key}, which the composed config does not have"
        + (f" (did you mean ~{group}.{near}?)" if near else "")
        + f". {command(config_name)} --cfg job shows the keys it has"
        + (f"; those under {group} are named after the options of its group: {', '.join(names)}" if names else "")
        + "."
    )


def _unparsed(error: OverrideParseException, overrides: list[str]) -> str:
    """An override Hydra's grammar cannot read (a bracket left open, a character an unquoted
    value may not hold, such as an accent), with the quoting that makes it a plain string."""
    parser = OverridesParser.create()
    given = None
    for override in command_line.parsed(overrides):
        try:
            parser.parse_override(override.text)
        except HydraException:  # what parse_override raises, where parse_overrides wraps it
            given = override
            break
    said = " ".join(str(error).split()).split(" See https://")[0]
    if given is None:
        return f"Invalid override: Hydra's override grammar cannot read the command line ({said})."
    prefix = given.text[: len(given.text) - len(given.value or "")]
    return (
        f"Invalid override: {given.text} is not a value Hydra's override grammar can read ({said}). "
        "An unquoted value may hold letters a-z and A-Z, digits, spaces and the characters "
        "_ - / \\ + . $ % * @ ? | :, a list is [a,b] and a mapping {key: value} (each closed), and "
        "a sweep's values are a,b,c. Any other text is read as a string when quoted, keeping the "
        f"quotes from the shell: '{prefix}\"{given.plain_value}\"'."
    )


def _unknown_key(cause: ConfigKeyError | ConfigAttributeError, overrides: list[str], config_name: str) -> str:
    """A key the composed config lacks: one ktrain passes itself, one the node allows (it needs
    a leading +), or an unknown one, told with the nearest allowed name and all of them."""
    key = cause.full_key
    unchosen = _unchosen_group(key, overrides)
    if unchosen:
        return unchosen
    # The override that names the key, or one that sets a mapping above it ({...}).
    given = next((o for o in overrides if command_line.key_of(o) == key), None) or next(
        (o for o in overrides if "{" in o and key.startswith(f"{command_line.key_of(o)}.")), key
    )
    path, _, name = key.rpartition(".")
    refused = supplied(key) if config_name == "train" else None
    if refused:
        return f"Invalid config: {refused}."
    parent = cause.parent_node
    # The whole config: a nested key's allowed keys depend on its group's _target_.
    config = OmegaConf.to_container(parent._get_root(), resolve=False) if parent is not None else {}
    keys, open_ended = allowed_keys(path, config, config_name)
    where = path or "the top level"
    if name in keys or (config_name == "train" and open_mapping(path, config)):
        return (
            f"Invalid config: {given} sets {key}, which {where} allows but this config does not "
            f"set yet; add it with a leading +: +{given.lstrip('+')}."
        )
    if open_ended:  # a builder of the user's own: the keys its config sets are the ones to know
        node = node_at(config, path.split(".") if path else [])
        keys = [*keys, *(k for k in node if k not in keys)] if isinstance(node, dict) else keys
    near = suggestion(name, keys)
    hint = f" (did you mean {near}?)" if near else ""
    allowed = ", ".join(keys) if keys else "no keys"
    more = " (and any other keyword argument of its _target_, added with a leading +)" if open_ended else ""
    return f"Invalid config: {given} names an unknown key {key!r}{hint}; {where} takes: {allowed}{more}."


def _unchosen_group(key: str, overrides: list[str]) -> str | None:
    """For a key below a group that the config has not chosen an option of (``fine_tune`` is
    null by default), the option to choose first; None for any other key."""
    options = sorted(_options_of(key))
    given = next((o.text for o in command_line.parsed(overrides) if o.key.startswith(f"{key}.")), None)
    if "." in key or not options or given is None:
        return None
    return (
        f"Invalid config: {given} sets a key of the group {key}, of which this config has chosen no "
        f"option; choose one first: {key}={options[0]} {given.lstrip('+')} (the options of {key}: "
        f"{', '.join(options)})."
    )
