"""The committed example inventory is valid and usable by Ansible as it is."""

import json
import shutil

from oemhost.store import Store

from .conftest import PROJECT, run_ansible


def test_example_inventory_validates(tmp_path, cli):
    # a copy, so the test leaves no cache inside the source tree
    inv = tmp_path / "example"
    shutil.copytree(PROJECT / "inventories" / "example", inv)
    code, out, err = cli("inventory", "check", "-i", str(inv), "--strict")
    assert code == 0, out + err
    assert out.strip().endswith("0 errors, 0 warnings")
    store = Store(inv)
    assert [t.id for t in store.list_tenants()] == ["cafe2", "oldsite", "shop1", "sky1"]
    assert {t.status for t in store.list_tenants()} == {"active", "suspended", "removed"}
    proc = run_ansible(["ansible-inventory", "-i", str(inv), "--graph"], cwd=tmp_path)
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    assert "owner_blue_sky" in proc.stdout
    proc = run_ansible(["ansible-inventory", "-i", str(inv), "--list"], cwd=tmp_path)
    hostvars = json.loads(proc.stdout)["_meta"]["hostvars"]
    assert hostvars["node1"]["oemhost_inventory_errors"] == []


def test_example_inventory_files_are_canonical():
    """Each state file is exactly what the store would write for its record."""
    from oemhost.store import validate, yamlio

    for path in sorted((PROJECT / "inventories/example/state").rglob("*.yml")):
        kind = path.parent.name.rstrip("s") if path.parent.parent.name == "state" else "plan"
        data = yamlio.loads(path.read_bytes())
        rec, errors = validate.check_record(kind, data)
        assert not errors, (path, errors)
        assert yamlio.dumps(rec) == path.read_bytes(), path
