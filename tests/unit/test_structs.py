"""pycore.structs: the declared value classes behave as the dataclasses they replace."""

from __future__ import annotations

import pytest

from pycore.structs import (
    FrozenInstanceError,
    asdict,
    astuple,
    field,
    fields,
    replace,
    struct,
)
from tests.helpers.imports import heavy_loaded


@struct(frozen=True, slots=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@struct
class Bag:
    name: str
    items: list[int] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict, metadata={"header": "META"})


@struct(frozen=True, order=True)
class Version:
    major: int
    minor: int


def test_init_positional_keyword_and_defaults() -> None:
    assert Point(1) == Point(x=1, y=0, tags=())
    assert Point(1, 2).y == 2
    assert Point(y=3, x=4) == Point(4, 3)


def test_init_rejects_bad_arguments_like_a_dataclass() -> None:
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, 2, (), 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, z=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, x=2)  # type: ignore[misc]


def test_generic_and_compiled_init_accept_and_refuse_the_same() -> None:
    @struct(frozen=True)
    class Fresh:
        a: int
        b: list[int] = field(default_factory=list)
        c: str = "c"

    for _ in range(20):  # the first instances use the generic __init__, later ones a compiled
        assert Fresh(1) == Fresh(a=1, b=[], c="c")
        assert Fresh(1, [2], c="x").b == [2]
        assert Fresh(1).b is not Fresh(1).b
        for bad_args, bad_kwargs in [((), {}), ((1, [], "c", 4), {}), ((1,), {"z": 1})]:
            with pytest.raises(TypeError):
                Fresh(*bad_args, **bad_kwargs)
        with pytest.raises(TypeError):
            Fresh(1, a=2)  # type: ignore[misc]


def test_default_factory_gives_each_instance_its_own_value() -> None:
    a, b = Bag("a"), Bag("b")
    a.items.append(1)
    assert b.items == []
    assert Bag("c", [5]).items == [5]


def test_frozen_refuses_assignment_and_deletion() -> None:
    p = Point(1)
    with pytest.raises(FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.x  # type: ignore[misc]
    b = Bag("x")
    b.name = "y"
    assert b.name == "y"


def test_equality_hash_repr_and_order() -> None:
    assert Point(1, 2) != Point(2, 1)
    assert Point(1, 2) != (1, 2, ())
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert len({Point(1), Point(1), Point(2)}) == 2
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=())"
    with pytest.raises(TypeError):
        hash(Bag("x"))  # mutable and compared by value: unhashable, as dataclasses
    assert sorted([Version(1, 10), Version(1, 2), Version(0, 9)]) == [
        Version(0, 9),
        Version(1, 2),
        Version(1, 10),
    ]
    assert Version(1, 2) <= Version(1, 2) < Version(2, 0)


def test_fields_replace_asdict_astuple() -> None:
    assert [f.name for f in fields(Bag)] == ["name", "items", "meta"]
    assert fields(Bag("x"))[2].metadata == {"header": "META"}
    assert fields(Point)[0].metadata == {}
    p = replace(Point(1, 2, ("a",)), y=5)
    assert p == Point(1, 5, ("a",))
    assert asdict(p) == {"x": 1, "y": 5, "tags": ("a",)}
    assert astuple(p) == (1, 5, ("a",))
    with pytest.raises(TypeError):
        replace(p, z=1)


def test_subclass_adds_fields_after_the_base_ones() -> None:
    @struct(frozen=True)
    class Point3(Point):
        z: int = 0

    p = Point3(1, 2, (), 3)
    assert (p.x, p.y, p.z) == (1, 2, 3)
    assert [f.name for f in fields(p)] == ["x", "y", "tags", "z"]


def test_post_init_runs_after_the_fields_are_set() -> None:
    @struct
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    assert Checked(1).n == 1
    with pytest.raises(ValueError):
        Checked(-1)


def test_the_run_path_imports_no_heavy_module() -> None:
    """The point of the module (and of the run path's lazy imports): `pycore run`'s modules
    import none of these, each of which costs every container start milliseconds."""
    code = (
        "import pycore.cli, pycore.cli.runflags, pycore.runtime.containers, pycore.image\n"
        "import pycore.runtime.spec, pycore.runtime.volumes, pycore.store.store\n"
        "import pycore.runtime.options, pycore.runtime.seccomp, pycore.runtime.users\n"
        "import pycore.network.wiring, pycore.network.service, pycore.network.ports\n"
        "import pycore.runtime.records, pycore.settings, pycore.native, pycore.jsonio\n"
    )
    assert heavy_loaded(code) == []
