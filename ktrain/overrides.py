"""The command line's overrides (``key=value``, ``+key=value``, ``~key``), read in one place.

Several steps read the overrides before or beside Hydra: ``resume=`` rewrites the command line
before Hydra starts, the schema's rules ask whether the command line named a key, and the
refusals quote the override a user typed. They all read them here. Hydra's own grammar
(``OverridesParser``) is not used: it refuses what Hydra will refuse anyway, and these readers
only need the key and the text after ``=``.
"""

from collections.abc import Iterable
from dataclasses import dataclass

MULTIRUN_FLAGS = ("-m", "--multirun")


@dataclass(frozen=True)
class Override:
    """One override as given: its dotted ``key`` (without ``+``, ``++`` or ``~``) and the text
    after ``=`` (None for a deletion without a value)."""

    text: str
    key: str
    value: str | None
    deletion: bool

    @property
    def plain_value(self) -> str | None:
        """The value without one pair of enclosing quotes (``hydra.run.dir='/a/b'``)."""
        value = self.value
        if value is not None and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            return value[1:-1]
        return value


def parse(arg: str) -> Override | None:
    """``arg`` as an override; None for a flag (``-m``, ``--cfg``) or a bare word."""
    if arg.startswith("-"):
        return None
    name, equals, value = arg.partition("=")
    deletion = name.startswith("~")
    if not equals and not deletion:
        return None
    return Override(arg, name.lstrip("+~"), value if equals else None, deletion)


def parsed(args: Iterable[str]) -> list[Override]:
    """The overrides among ``args``, in order, flags left out."""
    return [override for override in map(parse, args) if override is not None]


def key_of(arg: str) -> str | None:
    """The dotted key ``arg`` sets or deletes; None for a flag."""
    override = parse(arg)
    return override.key if override else None


def last(args: Iterable[str], key: str) -> Override | None:
    """The last override of ``key`` among ``args`` (the one Hydra applies), or None."""
    found = [override for override in parsed(args) if override.key == key]
    return found[-1] if found else None


def without(args: Iterable[str], *keys: str) -> list[str]:
    """``args`` without the overrides of ``keys``."""
    return [arg for arg in args if key_of(arg) not in keys]


def sets_below(args: Iterable[str], key: str) -> bool:
    """Whether an override (not a deletion) sets ``key`` or a key below it."""
    return any(not o.deletion and (o.key == key or o.key.startswith(f"{key}.")) for o in parsed(args))


def names_option(args: Iterable[str], group: str, option: str) -> bool:
    """Whether an override lists ``option`` among the options of ``group``
    (``callbacks=[early_stopping,reduce_lr]``)."""
    return any(
        override.key == group and override.value is not None and option in _listed(override.value)
        for override in parsed(args)
    )


def _listed(value: str) -> list[str]:
    """The options a group override names: ``[a, b]`` or ``a``."""
    return value.strip("[]").replace(" ", "").split(",")


def is_multirun(args: Iterable[str]) -> bool:
    return any(arg in MULTIRUN_FLAGS for arg in args)
