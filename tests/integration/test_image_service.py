"""The image service through its Python API, on a real store with real layers (no root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycore.errors import Conflict, ImageNotFound, InvalidReference, StoreError, UsageError
from pycore.image import Image, ImageService
from pycore.store.index import ImageRecord
from pycore.store.store import Store
from tests.helpers.images import BuiltImage, build_image

BASE = {"bin/sh": "#!shell\n", "etc/os-release": "ID=test\n"}


@pytest.fixture
def store(store_root: Path) -> Store:
    return Store.open(store_root)


@pytest.fixture
def service(store: Store) -> ImageService:
    return ImageService(store)


def app(store: Store, name: str, content: str = "app", **kw: object) -> BuiltImage:
    return build_image(store, [BASE, {"app/file": content}], names=(name,), **kw)  # type: ignore[arg-type]


# -- get / resolve ---------------------------------------------------------------------------


def test_get_by_every_kind_of_name(store: Store, service: ImageService) -> None:
    built = app(store, "foo/bar:1")
    want = built.id
    for text in (
        "foo/bar:1",
        "docker.io/foo/bar:1",
        "index.docker.io/foo/bar:1",
        str(built.id),
        built.id.hex,
        built.id.hex[:12],
        built.id.hex[:4],
        "sha256:" + built.id.hex[:8],
        str(built.manifest_digest),
        f"foo/bar@{built.manifest_digest}",
        f"foo/bar:1@{built.manifest_digest}",
    ):
        assert service.get(text).id == want, text


def test_get_errors(store: Store, service: ImageService) -> None:
    app(store, "foo/bar:1")
    with pytest.raises(ImageNotFound, match="No such image: foo/bar:latest"):
        service.get("foo/bar")
    with pytest.raises(ImageNotFound, match="No such image"):
        service.get("foo/bar@sha256:" + "e" * 64)
    with pytest.raises(InvalidReference, match="lowercase"):
        service.get("Foo")
    assert service.exists("foo/bar:1")
    assert not service.exists("nope")


def test_ambiguous_short_id(store: Store, service: ImageService) -> None:
    images = [app(store, f"x{i}", content=str(i)) for i in range(40)]
    ids = [b.id.hex for b in images]
    first = next(h[0] for h in ids if sum(x[0] == h[0] for x in ids) > 1)
    with pytest.raises(UsageError, match="ambiguous"):
        service.get(first)


def test_image_value(store: Store, service: ImageService) -> None:
    built = app(store, "ubuntu:22.04", labels={"a": "b"})
    service.tag("ubuntu:22.04", "localhost:5000/u:x")
    img = service.get("ubuntu:22.04")
    assert img.repo_tags == ("ubuntu:22.04", "localhost:5000/u:x")
    assert img.repo_digests == (
        f"ubuntu@{built.manifest_digest}",
        f"localhost:5000/u@{built.manifest_digest}",
    )
    assert img.size == sum(x.size for x in built.layers)
    assert img.architecture == "amd64" and img.os == "linux"
    assert img.created_at is not None and img.created_at.year == 2024
    assert img.diff_ids == built.diff_ids
    assert not img.dangling


def test_inspect_fields(store: Store, service: ImageService) -> None:
    built = app(
        store,
        "web:1",
        config={
            "Entrypoint": ["/bin/app"],
            "WorkingDir": "/srv",
            "User": "1000",
            "ExposedPorts": {"80/tcp": {}},
            "Volumes": {"/data": {}},
            "StopSignal": "SIGTERM",
        },
        labels={"org.example": "yes"},
    )
    doc = service.inspect("web:1")
    assert doc["Id"] == str(built.id)
    assert doc["RepoTags"] == ["web:1"]
    assert doc["RepoDigests"] == [f"web@{built.manifest_digest}"]
    assert doc["Created"] == "2024-01-02T03:04:05Z"
    assert (doc["Architecture"], doc["Os"]) == ("amd64", "linux")
    assert doc["Size"] == sum(x.size for x in built.layers)
    assert doc["RootFS"] == {"Type": "layers", "Layers": [str(x) for x in built.diff_ids]}
    cfg = doc["Config"]
    assert cfg["Cmd"] == ["/bin/sh"]
    assert cfg["Entrypoint"] == ["/bin/app"]
    assert cfg["Env"] == ["PATH=/usr/bin:/bin"]
    assert cfg["WorkingDir"] == "/srv"
    assert cfg["User"] == "1000"
    assert cfg["ExposedPorts"] == {"80/tcp": {}}
    assert cfg["Volumes"] == {"/data": {}}
    assert cfg["Labels"] == {"org.example": "yes"}
    assert cfg["StopSignal"] == "SIGTERM"
    assert doc["Metadata"]["LastTagTime"]
    assert doc["Descriptor"]["digest"] == str(built.manifest_digest)
    assert doc["Descriptor"]["size"] == len(built.manifest_bytes)


# -- list ------------------------------------------------------------------------------------


def tags(images: list[Image]) -> list[str]:
    return sorted(t for i in images for t in i.repo_tags)


def test_list_filters(store: Store, service: ImageService) -> None:
    app(store, "ubuntu:22.04", content="u1")
    app(store, "ubuntu:24.04", content="u2")
    app(store, "foo/bar:1", content="f")
    dangling = build_image(store, [BASE, {"d": "d"}])
    assert tags(service.list()) == ["foo/bar:1", "ubuntu:22.04", "ubuntu:24.04"]
    assert len(service.list()) == 4
    assert tags(service.list(references=["ubuntu"])) == ["ubuntu:22.04", "ubuntu:24.04"]
    assert tags(service.list(references=["ubuntu:24.04"])) == ["ubuntu:24.04"]
    assert tags(service.list(references=["docker.io/library/ubuntu"])) == [
        "ubuntu:22.04",
        "ubuntu:24.04",
    ]
    assert tags(service.list(references=["foo/*"])) == ["foo/bar:1"]
    assert tags(service.list(references=["*"])) == ["ubuntu:22.04", "ubuntu:24.04"]
    assert tags(service.list(references=["ubu*:22*"])) == ["ubuntu:22.04"]
    assert [i.id for i in service.list(dangling=True)] == [dangling.id]
    assert len(service.list(dangling=False)) == 3


def test_list_hides_intermediate_images_unless_all(store: Store, service: ImageService) -> None:
    parent = build_image(store, [BASE])  # untagged, a prefix of the child: an intermediate
    app(store, "child:1")
    assert parent.id not in [i.id for i in service.list()]
    assert parent.id in [i.id for i in service.list(all=True)]


def test_list_newest_first(store: Store, service: ImageService) -> None:
    app(store, "old:1", content="o", created="2020-01-01T00:00:00Z")
    app(store, "new:1", content="n", created="2025-01-01T00:00:00.123456789Z")
    assert [i.repo_tags[0] for i in service.list()] == ["new:1", "old:1"]


# -- tag -------------------------------------------------------------------------------------


def test_tag_moves_a_name_between_images(store: Store, service: ImageService) -> None:
    a = app(store, "a:1", content="a")
    b = app(store, "b:1", content="b")
    assert str(service.tag("a:1", "shared")) == "docker.io/library/shared:latest"
    assert service.get("shared").id == a.id
    service.tag(b.id.hex[:12], "shared:latest")
    assert service.get("shared").id == b.id
    assert service.get("a:1").repo_tags == ("a:1",)
    with pytest.raises(InvalidReference, match="digest"):
        service.tag("a:1", f"x@{a.manifest_digest}")
    with pytest.raises(ImageNotFound):
        service.tag("nope", "x")


# -- remove ----------------------------------------------------------------------------------


def blobs_of(built: BuiltImage) -> set[str]:
    return {
        str(built.manifest_digest),
        str(built.id),
        *(str(x.digest) for x in built.layers),
    }


def test_rmi_name_of_several_only_untags(store: Store, service: ImageService) -> None:
    a = app(store, "a:1")
    service.tag("a:1", "a:2")
    events = service.remove("a:1")
    assert [str(e) for e in events] == ["Untagged: a:1"]
    assert service.get("a:2").id == a.id
    assert blobs_of(a) <= {str(d) for d in store.blobs()}


def test_rmi_last_name_deletes_but_keeps_shared_layers(store: Store, service: ImageService) -> None:
    a = app(store, "a:1", content="a")
    b = app(store, "b:1", content="b")
    shared_blob, shared_layer = a.layers[0].digest, a.diff_ids[0]
    assert b.layers[0].digest == shared_blob  # deterministic packing: one stored copy
    events = [str(e) for e in service.remove("a:1")]
    assert events[:2] == ["Untagged: a:1", f"Deleted: {a.id}"]
    assert f"Deleted: {a.diff_ids[1]}" in events
    assert f"Deleted: {shared_layer}" not in events
    assert store.has_blob(shared_blob) and store.has_layer(shared_layer)
    assert not store.has_blob(a.layers[1].digest) and not store.has_layer(a.diff_ids[1])
    assert not store.has_blob(a.manifest_digest) and not store.has_blob(a.id)
    assert service.get("b:1").id == b.id
    assert service.check().ok
    service.remove("b:1")
    assert list(store.blobs()) == [] and list(store.layers()) == []
    assert not [p for p in Path(store.layout.tmp).iterdir() if not p.name.endswith(".lock")]


def test_rmi_by_id_in_several_repositories_needs_force(store: Store, service: ImageService) -> None:
    a = app(store, "a:1")
    service.tag("a:1", "a:2")  # same repository: no force needed by id
    service.tag("a:1", "other:1")
    with pytest.raises(Conflict, match="must be forced"):
        service.remove(a.id.hex[:12])
    assert service.get("a:1")
    events = [str(e) for e in service.remove(a.id.hex[:12], force=True)]
    assert events[:3] == ["Untagged: a:1", "Untagged: a:2", "Untagged: other:1"]
    assert f"Deleted: {a.id}" in events
    with pytest.raises(ImageNotFound):
        service.get("a:1")


def test_rmi_by_id_in_one_repository(store: Store, service: ImageService) -> None:
    a = app(store, "a:1")
    service.tag("a:1", "a:2")
    events = [str(e) for e in service.remove(str(a.id))]
    assert events[:3] == ["Untagged: a:1", "Untagged: a:2", f"Deleted: {a.id}"]


def test_in_use_hook(store: Store) -> None:
    a = app(store, "a:1")

    def in_use(record: ImageRecord) -> str | None:
        return "container c0ffee is using its referenced image" if record.config == a.id else None

    service = ImageService(store, in_use=in_use)
    with pytest.raises(Conflict, match="c0ffee"):
        service.remove("a:1")
    events = [str(e) for e in service.remove("a:1", force=True)]
    assert events == ["Untagged: a:1"]  # forced: untagged, layers kept for the container
    img = service.get(a.id.hex)
    assert img.dangling
    assert all(store.has_layer(x) for x in a.diff_ids)
    assert service.prune(all=True).events == ()
    assert service.disk_usage().active == 1


# -- prune / disk usage ----------------------------------------------------------------------


def test_prune_dangling_then_all(store: Store, service: ImageService) -> None:
    keep = app(store, "keep:1", content="k")
    loose = build_image(store, [{"only": "loose"}])
    report = service.prune()
    assert str(report.events[0]) == f"Deleted: {loose.id}"
    assert report.reclaimed > 0
    assert not store.has_blob(loose.layers[0].digest)
    assert service.get("keep:1").id == keep.id
    report = service.prune(all=True)
    assert "Untagged: keep:1" in [str(e) for e in report.events]
    assert service.list(all=True) == []
    assert list(store.blobs()) == []
    assert service.prune().events == ()


def test_disk_usage(store: Store, service: ImageService) -> None:
    assert service.disk_usage().total == 0
    a = app(store, "a:1", content="a")
    app(store, "b:1", content="b")
    usage = service.disk_usage()
    assert (usage.total, usage.active) == (2, 0)
    blob_bytes = sum(Path(store.layout.blob(d)).stat().st_size for d in store.blobs())
    assert usage.size > blob_bytes  # blobs plus unpacked layers
    assert usage.reclaimable == usage.size
    shared = ImageService(store, in_use=lambda r: "used" if r.config == a.id else None)
    assert shared.disk_usage().active == 1
    assert shared.disk_usage().reclaimable < usage.size


# -- check -----------------------------------------------------------------------------------


def corrupt(path: Path) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.chmod(path, 0o444)


def test_check_clean_store(store: Store, service: ImageService) -> None:
    app(store, "a:1")
    report = service.check()
    assert report.ok and report.problems == ()
    assert (report.images_checked, report.layers_checked) == (1, 2)
    assert report.blobs_checked == 4


def test_check_finds_and_repairs_corrupt_blob(store: Store, service: ImageService) -> None:
    a = app(store, "a:1", content="a")
    b = app(store, "b:1", content="b")
    corrupt(Path(store.layout.blob(a.layers[1].digest)))
    report = service.check()
    assert not report.ok
    kinds = {(p.kind, p.subject) for p in report.problems}
    assert ("corrupt-blob", str(a.layers[1].digest)) in kinds
    assert ("broken-image", "a:1") in kinds
    report = service.check(repair=True)
    assert report.ok and all(p.repaired for p in report.problems)
    with pytest.raises(ImageNotFound):
        service.get("a:1")
    assert service.get("b:1").id == b.id
    assert store.has_layer(a.diff_ids[0])  # shared with b
    assert not store.has_layer(a.diff_ids[1]) and not store.has_blob(a.manifest_digest)
    assert service.check().problems == ()


def test_check_reextracts_missing_layer(store: Store, service: ImageService) -> None:
    a = app(store, "a:1")
    store.remove_layer(a.diff_ids[1])
    report = service.check()
    assert not report.ok
    assert [(p.kind, p.subject) for p in report.problems] == [("missing-layer", str(a.diff_ids[1]))]
    repaired = service.check(repair=True)
    assert repaired.ok
    assert [(p.kind, p.repaired) for p in repaired.problems] == [("missing-layer", True)]
    assert store.has_layer(a.diff_ids[1])
    assert (Path(store.layer_path(a.diff_ids[1])) / "app" / "file").read_text() == "app"
    assert service.get("a:1")


def test_check_missing_layer_and_blob_breaks_image(store: Store, service: ImageService) -> None:
    a = app(store, "a:1")
    store.remove_layer(a.diff_ids[1])
    store.remove_blob(a.layers[1].digest)
    report = service.check()
    assert not report.ok
    (problem,) = [p for p in report.problems if p.kind == "broken-image"]
    assert "missing" in problem.detail
    assert service.check(repair=True).ok
    assert service.list(all=True) == []
    assert service.check().problems == ()


def test_check_orphans_and_strays(store: Store, service: ImageService) -> None:
    app(store, "a:1")
    orphan = store.put_blob(b"nobody uses me")
    (Path(store.layout.layers) / ("f" * 64)).mkdir()
    (Path(store.layout.blobs) / "junk").write_text("x")
    report = service.check()
    kinds = {(p.kind, p.subject) for p in report.problems}
    assert ("orphan-blob", str(orphan)) in kinds
    assert ("orphan-layer", "sha256:" + "f" * 64) in kinds
    assert ("stray-file", "blobs/sha256/junk") in kinds
    assert service.check(repair=True).ok
    assert not store.has_blob(orphan)
    assert service.check().problems == ()
    assert service.get("a:1")


def test_check_rebuilds_a_corrupt_index(store: Store, service: ImageService) -> None:
    a = app(store, "a:1")
    Path(store.layout.image_index).write_text("{ not json")
    with pytest.raises(StoreError, match="system check"):
        service.list()
    assert not service.check().ok
    report = service.check(repair=True)
    assert report.ok
    assert [i.id for i in service.list(all=True)] == [a.id]
