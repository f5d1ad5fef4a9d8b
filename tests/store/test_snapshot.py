"""The parse cache: re-parse only what changed, never trust it over the files."""

import os
import time

import pytest

from oemhost.store import Store, layout, yamlio
from oemhost.store.snapshot import Snapshot

from .conftest import git, tenant_record


@pytest.fixture
def three(store: Store) -> Store:
    for tid in ("aaa1", "bbb2", "ccc3"):
        store.add_tenant(tenant_record(tid, domains=[f"{tid}.example"]),
                         password="tenant-password-1", actor="ops:a")
    return store


def counting(monkeypatch):
    parsed: list[str] = []
    real = Snapshot._parse

    def spy(self, path, *a, **kw):
        parsed.append(path)
        return real(self, path, *a, **kw)

    monkeypatch.setattr(Snapshot, "_parse", spy)
    return parsed


def age_files(root, seconds=10):
    """Make every state file look older than the racy window."""
    past = time.time() - seconds
    for dirpath, _dirs, files in os.walk(root / "state"):
        for name in files:
            os.utime(os.path.join(dirpath, name), (past, past))


def test_a_new_process_reuses_the_cache_and_reparses_only_changes(three, monkeypatch):
    age_files(three.root)
    Snapshot(three.root).refresh()  # records the aged files
    parsed = counting(monkeypatch)
    snap = Snapshot(three.root)
    snap.refresh()
    assert parsed == []
    assert sorted(snap.tenants) == ["aaa1", "bbb2", "ccc3"]
    path = three.root / layout.tenant_path("bbb2")
    data = yamlio.loads(path.read_bytes())
    data["contractor"] = "Changed Behind The Cache"
    path.write_bytes(yamlio.dumps(data))
    snap2 = Snapshot(three.root)
    snap2.refresh()
    assert parsed == ["state/tenants/bbb2.yml"]
    assert snap2.tenants["bbb2"].data["contractor"] == "Changed Behind The Cache"


def test_racy_entries_are_reparsed(three, monkeypatch):
    # files written just now are never trusted from the cache: same size, same mtime tick
    snap = Snapshot(three.root)
    snap.refresh()
    parsed = counting(monkeypatch)
    Snapshot(three.root).refresh()
    assert len(parsed) >= 3


def test_a_corrupt_cache_is_ignored(three):
    cache = three.root / layout.CACHE_DIR / "cache.sqlite"
    for extra in cache.parent.glob("cache.sqlite-*"):
        extra.unlink()
    cache.write_bytes(b"this is not a database" * 100)
    snap = Snapshot(three.root)
    snap.refresh()
    assert sorted(snap.tenants) == ["aaa1", "bbb2", "ccc3"]
    assert snap.node_records("node1")[0]["id"] == "aaa1"


def test_cached_records_are_matched_by_content_not_by_stat(three):
    age_files(three.root)
    snap = Snapshot(three.root)
    snap.refresh()
    assert snap.node_records("node1")  # fills the record cache
    # a cache row with the right stat data but other content must not be used
    entry = snap.tenants["aaa1"]
    entry.version = "0" * 40
    again = [r for r in snap.node_records("node1") if r["id"] == "aaa1"]
    assert again and again[0]["contractor"] == "Contractor of aaa1"


def test_files_removed_or_added_by_hand(three):
    snap = Snapshot(three.root)
    snap.refresh()
    (three.root / layout.tenant_path("ccc3")).unlink()
    (three.root / "state/tenants/notes.txt").write_text("scratch")
    snap.refresh()
    assert sorted(snap.tenants) == ["aaa1", "bbb2"]
    warnings = [i.line for i in snap.issues() if i.severity == "warning"]
    assert warnings == ["state/tenants/notes.txt: not a state file (expected <name>.yml; "
                        "it is ignored)"]


def test_errors_are_attributed_to_the_nodes_they_block(three):
    three.put_node({"name": "node2", "address": "127.0.0.2", "services": ["web"],
                    "infra": {"provider": "lab", "params": {"node": "node2"}}}, actor="ops:a")
    bad = three.root / layout.tenant_path("aaa1")
    bad.write_text(bad.read_text().replace("contact_email: owner@aaa1.example",
                                            "contact_email: nope"))
    broken = three.root / layout.tenant_path("zzz9")
    broken.write_text("id: [unclosed\n")
    git(three.root, "add", "-A")
    snap = Snapshot(three.root)
    snap.refresh()
    node1, node2 = snap.errors_for_node("node1"), snap.errors_for_node("node2")
    assert any(e.startswith("aaa1: contact_email: ") for e in node1)
    assert not any(e.startswith("aaa1") for e in node2)
    # a file that cannot be read names no node: it blocks every node
    assert any(e.startswith("zzz9: invalid YAML") for e in node1)
    assert any(e.startswith("zzz9: invalid YAML") for e in node2)
    # the invalid tenant is left out of the node's tenants, the valid ones stay
    assert [r["id"] for r in snap.node_records("node1")] == ["bbb2", "ccc3"]


def test_without_a_usable_cache_everything_is_parsed(three, monkeypatch):
    # e.g. a read-only checkout: here the cache path is taken by a plain file
    import shutil

    shutil.rmtree(three.root / layout.CACHE_DIR)
    (three.root / layout.CACHE_DIR).write_text("not a directory")
    parsed = counting(monkeypatch)
    snap = Snapshot(three.root)
    snap.refresh()
    assert len(snap.tenants) == 3 and len(parsed) >= 3
    assert [r["id"] for r in snap.node_records("node1")] == ["aaa1", "bbb2", "ccc3"]


def test_plugin_view_is_reused_until_a_state_file_changes(three, monkeypatch):
    from oemhost.store.snapshot import PluginView

    age_files(three.root)
    first = PluginView(three.root).load()
    assert first.data["nodes"]["node1"]["tenant_ids"] == ["aaa1", "bbb2", "ccc3"]
    refreshed: list[int] = []
    real = Snapshot.refresh
    monkeypatch.setattr(Snapshot, "refresh",
                        lambda self, *a, **kw: refreshed.append(1) or real(self, *a, **kw))
    again = PluginView(three.root).load()
    assert refreshed == [] and again.data == first.data
    assert [t["id"] for t in again.node_vars("node1")["oemhost_tenants"]] == [
        "aaa1", "bbb2", "ccc3"]
    # a hand edit changes the files' stat data: the view is rebuilt and sees it
    path = three.root / layout.tenant_path("bbb2")
    path.write_text(path.read_text().replace("node: node1", "node: ghost"))
    age_files(three.root)
    rebuilt = PluginView(three.root).load()
    assert refreshed == [1]
    assert rebuilt.data["nodes"]["node1"]["tenant_ids"] == ["aaa1", "ccc3"]
    assert any(e.startswith("bbb2: node: ") for e in rebuilt.data["nodes"]["node1"]["errors"])


def test_plugin_view_with_a_file_changed_after_it_was_built(three):
    from oemhost.store.snapshot import PluginView

    age_files(three.root)
    view = PluginView(three.root).load()
    path = three.root / layout.tenant_path("aaa1")
    path.write_text(path.read_text().replace("Contractor of aaa1", "Changed Meanwhile"))
    (three.root / layout.CACHE_DIR / "cache.sqlite").unlink()  # no cached records either
    got = view.node_vars("node1")["oemhost_tenants"]
    assert [t["id"] for t in got] == ["bbb2", "ccc3"]
    assert view.late_changes == ["state/tenants/aaa1.yml"]
