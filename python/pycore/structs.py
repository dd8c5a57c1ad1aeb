"""Declared value classes without the import-time cost of `dataclasses`.

`dataclasses` compiles several methods per class with `exec` when a module is imported (and
imports `inspect` on the way): for pycore's ~70 classes that is tens of milliseconds at every
CLI start, most of it for classes the command never instantiates. `struct` gives the same
declarations (annotations, defaults, `field(default_factory=...)`, `frozen`, `order`) and
type-checks the same way (PEP 681 `dataclass_transform`), but does no work at class creation
beyond reading the annotations: `__init__` is generic for a class's first few instances and
compiled for the class after that (as dataclasses writes it); `__eq__`, `__hash__`,
`__repr__` and ordering compare the tuple of field values.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda f: f


_MISSING: Any = object()
_EMPTY: Mapping[str, Any] = {}


class FrozenInstanceError(AttributeError):
    """Raised when a field of a frozen struct is assigned or deleted."""


class Field:
    """One declared field: its name, default or default factory, and free-form metadata."""

    __slots__ = ("default", "default_factory", "metadata", "name")

    def __init__(
        self, default: Any, default_factory: Any, metadata: Mapping[str, Any] | None
    ) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.metadata: Mapping[str, Any] = metadata or _EMPTY

    def __repr__(self) -> str:
        return f"Field({self.name!r})"


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] = _MISSING,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """A field with a default factory (for mutable defaults) or metadata."""
    if default is not _MISSING and default_factory is not _MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, metadata)


def fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a struct class or instance, in declaration order."""
    cls: Any = obj if isinstance(obj, type) else type(obj)
    found: tuple[Field, ...] = cls.__struct_fields__
    return found


def astuple(obj: Any) -> tuple[Any, ...]:
    """The field values, in declaration order (not recursive)."""
    return tuple(getattr(obj, f.name) for f in type(obj).__struct_fields__)


def asdict(obj: Any) -> dict[str, Any]:
    """Field name -> value (not recursive)."""
    return {f.name: getattr(obj, f.name) for f in type(obj).__struct_fields__}


def replace(obj: T, **changes: Any) -> T:
    """A copy of `obj` with some fields changed."""
    values = asdict(obj)
    unknown = set(changes) - set(values)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)[0]!r}")
    values.update(changes)
    return type(obj)(**values)


def _collect(cls: type) -> tuple[Field, ...]:
    found: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get("__struct_fields__", ()):
            found[f.name] = f
    # Not inspect.get_annotations: importing inspect is what this module avoids.
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    for name, annotation in own.items():
        if isinstance(annotation, str) and annotation.startswith("ClassVar"):
            continue
        value = cls.__dict__.get(name, _MISSING)
        if isinstance(value, Field):
            f = value
            if f.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        else:
            f = Field(value, _MISSING, None)
        f.name = name
        found[name] = f
    return tuple(found.values())


def _compile_init(cls: Any) -> Callable[..., None]:
    """Source for `__init__`, compiled once per class: positional or keyword arguments, in
    field order, with defaults and factories (as `dataclasses` writes it)."""
    flds: tuple[Field, ...] = cls.__struct_fields__
    frozen = cls.__struct_frozen__
    env: dict[str, Any] = {"_setattr": object.__setattr__}
    params, body = [], []
    for i, f in enumerate(flds):
        if f.default_factory is not _MISSING:
            env[f"_f{i}"] = f.default_factory
            params.append(f"{f.name}=_MISSING")
            value = f"_f{i}() if {f.name} is _MISSING else {f.name}"
            env["_MISSING"] = _MISSING
        elif f.default is not _MISSING:
            env[f"_d{i}"] = f.default
            params.append(f"{f.name}=_d{i}")
            value = f.name
        else:
            params.append(f.name)
            value = f.name
        body.append(
            f"  _setattr(self, {f.name!r}, {value})" if frozen else f"  self.{f.name} = {value}"
        )
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    src = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "  pass") + "\n"
    exec(src, env)
    init: Callable[..., None] = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


# Instantiations of a class through the generic `__init__` before its own is compiled: a
# short command builds most classes a few times, where compiling (~0.2 ms) costs more.
_COMPILE_AFTER = 8


def _generic_init(owner: Any, self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    flds: tuple[Field, ...] = owner.__struct_fields__
    what = f"{owner.__name__}()"
    if len(args) > len(flds):
        raise TypeError(f"{what} takes {len(flds)} positional arguments but {len(args)} given")
    used = 0
    for i, f in enumerate(flds):
        if i < len(args):
            if f.name in kwargs:
                raise TypeError(f"{what} got multiple values for argument {f.name!r}")
            value = args[i]
        elif f.name in kwargs:
            value = kwargs[f.name]
            used += 1
        elif f.default_factory is not _MISSING:
            value = f.default_factory()
        elif f.default is not _MISSING:
            value = f.default
        else:
            raise TypeError(f"{what} missing required argument: {f.name!r}")
        object.__setattr__(self, f.name, value)
    if used != len(kwargs):
        unknown = sorted(set(kwargs) - {f.name for f in flds})
        raise TypeError(f"{what} got an unexpected keyword argument {unknown[0]!r}")
    if hasattr(owner, "__post_init__"):
        self.__post_init__()


def _first_init(self: Any, *args: Any, **kwargs: Any) -> None:
    owner: Any = next(c for c in type(self).__mro__ if "__struct_fields__" in c.__dict__)
    calls = owner.__dict__.get("__struct_calls__", 0) + 1
    if calls < _COMPILE_AFTER or owner.__dict__.get("__init__") is not _first_init:
        owner.__struct_calls__ = calls
        _generic_init(owner, self, args, kwargs)
        return
    owner.__init__ = _compile_init(owner)
    owner.__init__(self, *args, **kwargs)


def _repr(self: Any) -> str:
    inner = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.__struct_fields__)
    return f"{type(self).__qualname__}({inner})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return astuple(self) == astuple(other)


def _hash(self: Any) -> int:
    return hash(astuple(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _order(op: str) -> Callable[[Any, Any], Any]:
    def compare(self: Any, other: Any) -> Any:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return getattr(astuple(self), op)(astuple(other))

    compare.__name__ = op
    return compare


def _build(declared: type[T], frozen: bool, order: bool, eq: bool) -> type[T]:
    cls: Any = declared
    cls.__struct_fields__ = _collect(cls)
    cls.__struct_frozen__ = frozen
    if "__init__" not in cls.__dict__:
        cls.__init__ = _first_init
    if "__repr__" not in cls.__dict__:
        cls.__repr__ = _repr
    if eq and "__eq__" not in cls.__dict__:
        cls.__eq__ = _eq
        # As dataclasses: frozen and compared by value -> hashable by value; else unhashable.
        cls.__hash__ = _hash if frozen else None
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    if order:
        for op in ("__lt__", "__le__", "__gt__", "__ge__"):
            setattr(cls, op, _order(op))
    return declared


@dataclass_transform(field_specifiers=(field,))
def struct(
    cls: type[T] | None = None,
    /,
    *,
    frozen: bool = False,
    order: bool = False,
    eq: bool = True,
    slots: bool = False,
) -> Any:
    """Declare a value class: `@struct` or `@struct(frozen=True, order=True)`. `slots` is
    accepted for the declarations' sake and changes nothing."""
    del slots

    def wrap(c: type[T]) -> type[T]:
        return _build(c, frozen, order, eq)

    return wrap if cls is None else wrap(cls)
