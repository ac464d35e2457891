"""A target as a data module declares it: its name, its kind, and what the run records of it."""

from dataclasses import dataclass

# Keras names the logs of an output "<name>_loss", "val_<name>_loss", ...: a name that starts with
# "val_" would read as the validation log of another output.
RESERVED_PREFIX = "val_"


@dataclass(frozen=True)
class Target:
    """One target of a data set.

    Args:
        name: its name: the model's output of that name predicts it (a data set of one target
            may leave it at ``label``).
        kind: ``class`` (one of N), ``binary``, ``multi_label``, ``number`` or ``mask`` (a class
            per pixel); ``ktrain.tasks`` has the task of each.
        shape: the shape of one sample's value: ``()`` for a class index or a 0/1 label,
            ``(k,)`` for k labels or k numbers, ``(height, width)`` for a mask.
        classes: the class names (``class``, ``mask``), the labels' names (``multi_label``), or
            the negative and positive names (``binary``).
        counts: the training samples per class (``class``, ``binary``), per label
            (``multi_label``), or the training pixels per class (``mask``).
        columns: the names of a ``number`` target's values (its shape's last axis).
        value_range: a ``number`` target's lowest and highest training value.

    Example:

    >>> Target("price", "number", shape=(), value_range=(3.5, 912.0))
    >>> Target("label", "class", classes=("cat", "dog"), counts=(40, 60))
    """

    name: str
    kind: str
    shape: tuple[int, ...] = ()
    classes: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    columns: tuple[str, ...] = ()
    value_range: tuple[float, float] | None = None

    def __post_init__(self):
        if not self.name or self.name.startswith(RESERVED_PREFIX):
            raise ValueError(
                f"a target's name must be non-empty and must not start with {RESERVED_PREFIX!r} (got {self.name!r}): "
                "Keras logs an output's validation metrics as val_<name>_..."
            )
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        object.__setattr__(self, "counts", tuple(int(c) for c in self.counts))
        object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))

    def describe(self) -> dict:
        """What the run records of the target (as params and in ``targets.json``)."""
        described = {"name": self.name, "kind": self.kind, "shape": list(self.shape)}
        if self.classes:
            described["classes"] = list(self.classes)
        if self.counts:
            described["counts"] = list(self.counts)
        if self.columns:
            described["columns"] = list(self.columns)
        if self.value_range is not None:
            described["value_range"] = [float(v) for v in self.value_range]
        return described

    @classmethod
    def described(cls, values: dict) -> "Target":
        """The target ``describe`` wrote."""
        value_range = values.get("value_range")
        return cls(
            values["name"],
            values["kind"],
            tuple(values.get("shape", ())),
            tuple(values.get("classes", ())),
            tuple(values.get("counts", ())),
            tuple(values.get("columns", ())),
            tuple(value_range) if value_range is not None else None,
        )
