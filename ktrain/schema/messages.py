"""Schema problems told as users write keys: ``model.filter is not a known key (allowed here: ...)``.

``problems`` turns pydantic's errors into phrases; ``allowed_keys`` tells ``ktrain.cli`` what a
node takes when Hydra itself refuses a key, before the schema has run: the keys of ktrain's
schema, then those of the node's Keras signature (``keywords.py``).
"""

from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ktrain.schema import keywords
from ktrain.schema.base import OpenTarget
from ktrain.schema.callbacks import CALLBACKS
from ktrain.schema.groups import GROUPS
from ktrain.schema.run import ROOTS


def paragraph(problems: list[str]) -> str:
    """The one paragraph a refused config is told in."""
    return "Invalid config: " + "; ".join(problems) + "."


def problems(schema: type[BaseModel], node: Any, prefix: str) -> list[str]:
    """What ``schema`` refuses in ``node`` (at dotted key ``prefix``), one phrase each."""
    try:
        schema.model_validate(node)
    except ValidationError as error:
        return [_describe(problem, schema, prefix) for problem in _one_per_key(error.errors())]
    return []


def _one_per_key(errors: list[dict]) -> list[dict]:
    """Pydantic tells a union's members apart (``unfreeze.literal['all']``,
    ``unfreeze.constrained-int``); users know the key only: one problem for it, what each member
    takes joined (``input should be 'all', or a valid integer``)."""
    merged: list[dict] = []
    by_key: dict[tuple, dict] = {}
    for problem in errors:
        loc = tuple(part for part in problem["loc"] if not _union_member(part))
        if loc == tuple(problem["loc"]):
            merged.append(problem)
        elif loc in by_key:
            by_key[loc]["msg"] += ", or " + problem["msg"].removeprefix("Input should be ")
        else:
            by_key[loc] = {**problem, "loc": loc}
            merged.append(by_key[loc])
    return merged


def _union_member(part: Any) -> bool:
    return isinstance(part, str) and (any(c in part for c in "[-'(") or part in ("int", "str", "float", "bool"))


def schema_of(group: str, node: Any) -> type[BaseModel]:
    """The schema of a group's node (``model``, ``callbacks.<name>``, ...) by its ``_target_``."""
    target = node.get("_target_") if isinstance(node, dict) else None
    if group == "callbacks":
        return CALLBACKS.get(target, OpenTarget)
    known, fallback = GROUPS[group]
    return known.get(target, fallback)


def allowed_keys(path: str, config: dict[str, Any], config_name: str = "train") -> tuple[list[str], bool]:
    """The keys the node at ``path`` (dotted; "" for the top) of the composed ``config`` of
    ``config_name`` takes, and whether it also takes others: ktrain's schema keys, then the
    other keywords of the node's Keras signature; a target neither knows takes any keyword."""
    parts = path.split(".") if path else []
    schema, rest = ROOTS[config_name], parts
    if parts[:1] and parts[0] in GROUPS:
        schema, rest = schema_of(parts[0], node_at(config, parts[:1])), parts[1:]
    elif parts[:1] == ["callbacks"] and len(parts) > 1:
        schema, rest = schema_of("callbacks", node_at(config, parts[:2])), parts[2:]
    keys = _keys(schema, rest)
    keras = keywords.accepted(path, node_at(config, parts)) if config_name == "train" else None
    if keras is None:
        return keys, not rest and schema.model_config.get("extra") == "allow"
    return keys + [name for name in keras.keywords if name not in keys], keras.any_keyword


def open_mapping(path: str, config: dict[str, Any], config_name: str = "train") -> bool:
    """Whether the node at ``path`` is a mapping of any keys in its schema (``data.features``)."""
    parts = path.split(".") if path else []
    if not parts[:1] or parts[0] not in GROUPS:
        return False
    node = _section(schema_of(parts[0], node_at(config, parts[:1])), parts[1:-1])
    field = node.model_fields.get(parts[-1]) if node and len(parts) > 1 else None
    return field is not None and get_origin(field.annotation) is dict


def _describe(problem: dict, schema: type[BaseModel], prefix: str) -> str:
    loc = [str(part) for part in problem["loc"]]
    key = ".".join(part for part in (prefix, *loc) if part) or prefix
    kind = problem["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(_keys(schema, loc[:-1]))
        return f"{key} is not a known key (allowed here: {allowed})"
    if kind == "missing":
        return f"{key} is required but has no value; give {key}=<{_description(schema, loc) or 'value'}>"
    message = problem["msg"].removeprefix("Value error, ")
    message = message[0].lower() + message[1:]
    if kind == "literal_error" and _takes_null(schema, loc):
        message += ", or null"
    if kind in ("list_type", "too_short", "too_long") and _description(schema, loc):
        message += f": {_description(schema, loc)}"
    value = problem.get("input")
    if value is None or isinstance(value, dict):  # a check across the keys of a node
        return f"{key}: {message}"
    if problem["loc"] and isinstance(problem["loc"][-1], int):  # an item of a list, which users write without its index
        return f"{key.rpartition('.')[0]} holds {value!r}: {message}"
    return f"{key}={value!r}: {message}"


def _takes_null(schema: type[BaseModel], path: list[str]) -> bool:
    node = _section(schema, path[:-1])
    field = node.model_fields.get(path[-1]) if node and path else None
    return field is not None and type(None) in get_args(field.annotation)


def _description(schema: type[BaseModel], path: list[str]) -> str | None:
    """The ``description`` of the field at ``path`` of ``schema``, if it has one."""
    node = _section(schema, path[:-1])
    field = node.model_fields.get(path[-1]) if node and path else None
    return field.description if field else None


def _keys(schema: type[BaseModel], path: list[str]) -> list[str]:
    """The keys a schema node takes, by the names users write (``_target_``, not ``target``)."""
    node = _section(schema, path)
    if node is None:
        return []
    return [field.alias or name for name, field in node.model_fields.items()]


def _section(schema: type[BaseModel], path: list[str]) -> type[BaseModel] | None:
    """The schema of the section at ``path``; None where the path leaves the schema."""
    for part in path:
        field = schema.model_fields.get(part)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        schema = field.annotation
    return schema


def node_at(config: dict[str, Any], parts: list[str]) -> Any:
    """The node of ``config`` at the keys ``parts``; None where there is none."""
    node: Any = config
    for part in parts:
        node = node.get(part) if isinstance(node, dict) else None
    return node
