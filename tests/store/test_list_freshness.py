"""List views stay fresh without re-reading every file on every request."""

from __future__ import annotations

import time

from oemhost.store import Store
from oemhost.store import snapshot as snapshot_mod

from .conftest import tenant_record


def _count_scans(monkeypatch, snap):
    calls = []
    real = snap._scan

    def counting(kinds):
        calls.append(set(kinds))
        return real(kinds)

    monkeypatch.setattr(snap, "_scan", counting)
    return calls


def _settle(st: Store, monkeypatch) -> None:
    """A full scan whose directory stamps are trusted (nothing changed in the last moment:
    the racy window is shortened to 1 ms for the test)."""
    monkeypatch.setattr(snapshot_mod, "RACY_NS", 1_000_000)
    time.sleep(0.02)
    st._snapshot.refresh()
    assert st._snapshot._dir_stamps


def test_unchanged_directories_spare_the_full_scan(shop, monkeypatch):
    reader = Store(shop.root)
    reader.list_tenants()
    _settle(reader, monkeypatch)
    calls = _count_scans(monkeypatch, reader._snapshot)
    reader._snapshot._full_scan_at -= 5  # past LIST_MAX_AGE, short of QUIET_MAX_AGE
    assert [t.id for t in reader.list_tenants()] == ["shop1"]
    assert calls == []


def test_a_write_by_another_process_is_seen_by_the_next_list(shop, monkeypatch):
    reader = Store(shop.root)
    assert [t.id for t in reader.list_tenants()] == ["shop1"]
    _settle(reader, monkeypatch)
    shop.add_tenant(tenant_record("shop2", domains=["shop2.example"]),
                    password="tenant-password-2", actor="reseller:acme/bob")
    reader._snapshot._full_scan_at -= 5
    assert [t.id for t in reader.list_tenants()] == ["shop1", "shop2"]


def test_an_in_place_edit_is_seen_within_the_quiet_bound(shop, monkeypatch):
    reader = Store(shop.root)
    reader.list_tenants()
    _settle(reader, monkeypatch)
    path = shop.root / "state" / "tenants" / "shop1.yml"
    text = path.read_text()
    assert "Contractor of shop1" in text
    with open(path, "r+") as f:  # no rename: the directory's stamp does not move
        f.write(text.replace("Contractor of shop1", "Contractor of shopX"))
    time.sleep(0.02)
    reader._snapshot._full_scan_at -= 5
    assert reader.list_tenants()[0].contractor == "Contractor of shop1"
    reader._snapshot._full_scan_at -= snapshot_mod.Snapshot.QUIET_MAX_AGE
    assert reader.list_tenants()[0].contractor == "Contractor of shopX"
