"""The store API: writes validated, one commit each, versions, permissions, hand edits."""

import subprocess

import pytest

from oemhost.errors import ConflictError, NotFoundError, OemhostError, ValidationError
from oemhost.store import PermissionDenied, Store, hashing, yamlio

from .conftest import NODE, PLAN, git, tenant_record


def commits(store: Store) -> int:
    return int(git(store.root, "rev-list", "--count", "HEAD"))


def test_init_creates_a_repository_and_is_idempotent(tmp_path):
    inv = tmp_path / "inv"
    Store.init(inv)
    first = git(inv, "rev-parse", "HEAD")
    Store.init(inv)
    assert git(inv, "rev-parse", "HEAD") == first
    assert (inv / "oemhost.yml").read_text().count("plugin: oemhost_state") == 1
    assert (inv / "secrets").stat().st_mode & 0o777 == 0o700
    assert "/secrets/" in (inv / ".gitignore").read_text().splitlines()
    assert git(inv, "status", "--porcelain") == ""
    # a missing piece is put back and committed
    (inv / "oemhost.yml").unlink()
    git(inv, "commit", "-qam", "oops")
    Store.init(inv)
    assert (inv / "oemhost.yml").exists() and git(inv, "status", "--porcelain") == ""


def test_every_write_is_one_commit_with_actor_and_reason(shop):
    before = commits(shop)
    commit = shop.change_tenant("shop1", {"contractor": "New Name"}, actor="ops:alice",
                                reason="customer asked by phone")
    assert commits(shop) == before + 1
    assert git(shop.root, "rev-parse", "HEAD").strip() == commit
    log = git(shop.root, "log", "-1", "--format=%an <%ae>%n%s%n%b")
    assert log.startswith("ops:alice <ops.alice@oemhost.invalid>\ntenant shop1: change contractor")
    assert "Reason: customer asked by phone" in log
    assert "contractor: Contractor of shop1 -> New Name" in log
    assert git(shop.root, "show", "--name-only", "--format=", "HEAD").split() == [
        "state/tenants/shop1.yml"]
    assert git(shop.root, "status", "--porcelain") == ""
    assert shop.get_tenant("shop1").contractor == "New Name"


def test_a_refused_change_leaves_no_commit_and_no_file_change(shop):
    path = shop.root / "state/tenants/shop1.yml"
    before, head = path.read_bytes(), commits(shop)
    with pytest.raises(ValidationError) as exc:
        shop.set_disk_split("shop1", 5000, actor="tenant:shop1")
    assert "disk" in exc.value.errors
    with pytest.raises(ValidationError):
        shop.add_mailbox("shop1", "info@shop1.example", "mailbox-pass-1", 5000,
                         actor="tenant:shop1")
    with pytest.raises(ValidationError):
        shop.change_tenant("shop1", {"contact_email": "not an address"}, actor="ops:a")
    assert path.read_bytes() == before and commits(shop) == head
    assert sorted(p.name for p in path.parent.iterdir()) == [".gitkeep", "shop1.yml"]


def test_stale_version_is_refused(shop):
    version = shop.get_tenant("shop1").version
    shop.change_tenant("shop1", {"contractor": "A"}, actor="ops:a", expected_version=version)
    with pytest.raises(ConflictError, match="stale"):
        shop.change_tenant("shop1", {"contractor": "B"}, actor="ops:b", expected_version=version)
    assert shop.get_tenant("shop1").contractor == "A"


def test_version_is_the_files_git_blob(shop):
    t = shop.get_tenant("shop1")
    assert t.version == git(shop.root, "rev-parse", "HEAD:state/tenants/shop1.yml").strip()


def test_uncommitted_hand_edit_blocks_writes_to_that_file_only(shop):
    path = shop.root / "state/tenants/shop1.yml"
    path.write_text(path.read_text().replace("Contractor of shop1", "Hand Edit"))
    with pytest.raises(ConflictError, match="not committed"):
        shop.change_tenant("shop1", {"contractor": "Store"}, actor="ops:a")
    assert "Hand Edit" in path.read_text()
    # other records are still writable, and the hand edit stays out of that commit
    shop.change_plan("acme", "basic", {"name": "Basic 2"}, actor="ops:a")
    assert git(shop.root, "status", "--porcelain").strip() == "M state/tenants/shop1.yml"
    # once ops commits it, the store reads the hand edit and builds on it
    git(shop.root, "commit", "-qam", "hand edit")
    shop.change_tenant("shop1", {"ssh": False, "status_reason": ""}, actor="ops:a")
    shop.set_disk_split("shop1", 1000, actor="tenant:shop1")
    t = shop.get_tenant("shop1")
    assert t.contractor == "Hand Edit" and t.disk.web_mb == 1000 and t.disk.mail_mb == 1000


def test_commit_by_hand_during_a_write_is_not_lost(shop, monkeypatch):
    from oemhost.store import gitrepo

    real = gitrepo.GitRepo.commit_paths

    def sneak(self, paths, **kw):
        other = shop.root / "group_vars/all/ops.yml"
        other.write_text("---\nops_setting: 1\n")
        git(shop.root, "add", "group_vars/all/ops.yml")
        git(shop.root, "commit", "-qm", "ops commit in between")
        return real(self, paths, **kw)

    monkeypatch.setattr(gitrepo.GitRepo, "commit_paths", sneak)
    before = (shop.root / "state/tenants/shop1.yml").read_bytes()
    with pytest.raises(ConflictError, match="moved"):
        shop.change_tenant("shop1", {"contractor": "Lost?"}, actor="ops:a")
    assert (shop.root / "state/tenants/shop1.yml").read_bytes() == before
    assert "ops commit in between" in git(shop.root, "log", "-1", "--format=%s")


def test_permissions(shop):
    with pytest.raises(PermissionDenied):
        shop.change_tenant("shop1", {"plan": "basic"}, actor="tenant:shop1")
    with pytest.raises(PermissionDenied):
        shop.change_plan("acme", "basic", {"disk_mb": 5000}, actor="tenant:shop1")
    with pytest.raises(PermissionDenied):
        shop.change_plan("acme", "basic", {"disk_mb": 5000}, actor="reseller:other/x")
    with pytest.raises(PermissionDenied):
        shop.add_mailbox("shop1", "a@shop1.example", "mailbox-pass-1", 10, actor="tenant:shop2")
    with pytest.raises(PermissionDenied):
        shop.put_node(NODE, actor="reseller:acme/bob")
    with pytest.raises(PermissionDenied):
        shop.change_reseller("acme", {"limits": {"tenants": 9999}}, actor="reseller:acme/bob")
    with pytest.raises(PermissionDenied):
        shop.change_tenant("shop1", {"node": "node1"}, actor="reseller:acme/bob")
    with pytest.raises(ValidationError, match="actor"):
        shop.change_tenant("shop1", {"contractor": "x"}, actor="somebody")
    # allowed: the reseller changes its plan's total, the tenant moves its split
    shop.change_plan("acme", "basic", {"disk_mb": 3000}, actor="reseller:acme/bob")
    shop.set_disk_split("shop1", 2000, actor="tenant:shop1")
    assert shop.get_tenant("shop1").disk.mail_mb == 1000
    shop.change_reseller("acme", {"brand": {"primary_color": "#112233"}},
                         actor="reseller:acme/bob")
    assert shop.get_reseller("acme").brand.display_name == "ACME Web"


def test_plan_change_is_refused_when_a_tenant_would_not_fit(shop):
    shop.add_mailbox("shop1", "a@shop1.example", "mailbox-pass-1", 400, actor="tenant:shop1")
    shop.add_mailbox("shop1", "b@shop1.example", "mailbox-pass-1", 400, actor="tenant:shop1")
    with pytest.raises(ValidationError, match="shop1: mailboxes"):
        shop.change_plan("acme", "basic", {"max_mailboxes": 1}, actor="ops:a")
    with pytest.raises(ValidationError, match="shop1: disk"):
        shop.change_plan("acme", "basic", {"disk_mb": 1000, "default_web_mb": 500},
                          actor="ops:a")
    assert shop.get_plan("acme", "basic").max_mailboxes == 3
    with pytest.raises(ConflictError, match="used by 1 tenant"):
        shop.remove_plan("acme", "basic", actor="ops:a")


def test_plan_limits_on_each_kind_of_account(shop):
    a = "tenant:shop1"
    for i in range(3):
        shop.add_mailbox("shop1", f"m{i}@shop1.example", "mailbox-pass-1", 10, actor=a)
    with pytest.raises(ValidationError, match="3 allows|allows 3"):
        shop.add_mailbox("shop1", "m9@shop1.example", "mailbox-pass-1", 10, actor=a)
    shop.add_ftp_account("shop1", "one", "ftp-pass-123", actor=a)
    shop.add_ftp_account("shop1", "two", "ftp-pass-123", dir="public_html", actor=a)
    with pytest.raises(ValidationError, match="FTP"):
        shop.add_ftp_account("shop1", "three", "ftp-pass-123", actor=a)
    shop.add_database("shop1", "postgresql", "app", "db-pass-1234", actor=a)
    with pytest.raises(ValidationError, match="postgresql"):
        shop.add_database("shop1", "postgresql", "app2", "db-pass-1234", actor=a)
    with pytest.raises(ValidationError, match="SSH"):
        shop.change_tenant("shop1", {"ssh": True}, actor=a)
    t = shop.get_tenant("shop1")
    assert [m.address for m in t.mailboxes] == ["m0@shop1.example", "m1@shop1.example",
                                                "m2@shop1.example"]
    assert [f.name for f in t.ftp_accounts] == ["shop1-one", "shop1-two"]
    assert t.databases[0].name == "shop1_app" and t.databases[0].user == "shop1_app"


def test_passwords_become_each_consumers_hash(shop):
    a = "tenant:shop1"
    shop.add_mailbox("shop1", "info@shop1.example", "mail-secret-1", 100, actor=a)
    shop.add_ftp_account("shop1", "up", "ftp-secret-1", actor=a)
    shop.add_database("shop1", "mariadb", "wp", "maria-secret-1", actor=a)
    shop.add_database("shop1", "postgresql", "app", "pg-secret-1", actor=a)
    shop.set_tenant_password("shop1", "system-secret-1", actor=a)
    t = shop.get_tenant("shop1")
    assert hashing.verify_sha512_crypt("system-secret-1", t.password_hash)
    assert hashing.verify_dovecot_hash("mail-secret-1", t.mailboxes[0].password_hash)
    assert hashing.verify_sha512_crypt("ftp-secret-1", t.ftp_accounts[0].password_hash)
    assert hashing.verify_mariadb_native_hash("maria-secret-1", t.databases[0].password_hash)
    assert hashing.verify_postgres_scram_sha256("pg-secret-1", t.databases[1].password_hash)
    with pytest.raises(ValidationError, match="password"):
        shop.set_mailbox_password("shop1", "info@shop1.example", "short", actor=a)


def test_idn_domains_are_stored_as_punycode(shop):
    shop.add_domain("shop1", "山田商店.jp", actor="tenant:shop1")
    t = shop.get_tenant("shop1")
    assert t.domains[1].name == "xn--czrr0ogxbdv4b.jp"
    assert t.domains[1].display_name == "山田商店.jp"
    assert t.domains[1].aliases == ["www.xn--czrr0ogxbdv4b.jp"]
    shop.add_mailbox("shop1", "info@山田商店.jp", "mailbox-pass-1", 10, actor="tenant:shop1")
    assert shop.get_tenant("shop1").mailboxes[0].address == "info@xn--czrr0ogxbdv4b.jp"


def test_a_domain_belongs_to_one_tenant(shop):
    shop.add_tenant(tenant_record("shop2"), password="tenant-password-2", actor="ops:a")
    with pytest.raises(ValidationError, match="already used by another tenant"):
        shop.add_domain("shop2", "SHOP1.example", actor="tenant:shop2")
    with pytest.raises(ValidationError, match="already used"):
        shop.add_domain("shop2", "other.example", aliases=["www.shop1.example"],
                        actor="tenant:shop2")


def test_domain_with_mailboxes_cannot_be_removed_and_takes_its_dns_along(shop):
    a = "tenant:shop1"
    shop.set_dns_records("shop1", "shop1.example", [{"name": "@", "type": "A",
                                                     "value": "192.0.2.5"}], actor=a)
    shop.add_mailbox("shop1", "info@shop1.example", "mailbox-pass-1", 10, actor=a)
    with pytest.raises(ConflictError, match="mailboxes"):
        shop.remove_domain("shop1", "shop1.example", actor=a)
    shop.remove_mailbox("shop1", "info@shop1.example", actor=a)
    shop.remove_domain("shop1", "shop1.example", actor=a)
    t = shop.get_tenant("shop1")
    assert t.domains == [] and t.dns_records == []


def test_mailbox_lock_by_the_monitor(shop):
    shop.add_mailbox("shop1", "info@shop1.example", "mailbox-pass-1", 10, actor="tenant:shop1")
    shop.lock_mailbox("shop1", "info@shop1.example", "mass mail: 250/h", actor="monitor")
    box = shop.get_tenant("shop1").mailboxes[0]
    assert box.locked.reason == "mass mail: 250/h" and box.locked.by == "monitor"
    with pytest.raises(PermissionDenied):
        shop.change_mailbox("shop1", "info@shop1.example", {"quota_mb": 20}, actor="monitor")
    shop.unlock_mailbox("shop1", "info@shop1.example", actor="monitor")
    assert shop.get_tenant("shop1").mailboxes[0].locked is None


def test_find_mailbox_by_address(shop):
    shop.add_mailbox("shop1", "info@shop1.example", "mailbox-pass-1", 10, actor="tenant:shop1")
    shop.add_tenant(tenant_record("shop2", domains=["shop2.example"]),
                    password="tenant-password-1", actor="reseller:acme/bob")
    shop.add_mailbox("shop2", "info@shop2.example", "mailbox-pass-1", 10, actor="tenant:shop2")
    tid, box = shop.find_mailbox("INFO@shop2.example")
    assert tid == "shop2" and box.address == "info@shop2.example" and box.locked is None
    assert shop.find_mailbox("info@shop1.example", node="node1")[0] == "shop1"
    with pytest.raises(NotFoundError):
        shop.find_mailbox("nobody@shop1.example")
    with pytest.raises(NotFoundError):
        shop.find_mailbox("info@shop1.example", node="node9")
    with pytest.raises(ValidationError):
        shop.find_mailbox("not an address")


def test_remove_purge_and_the_reseller_node_guards(shop):
    with pytest.raises(ConflictError, match="still has"):
        shop.remove_reseller("acme", actor="ops:a")
    with pytest.raises(ConflictError, match="remove it first"):
        shop.purge_tenant("shop1", actor="ops:a")
    shop.remove_tenant("shop1", actor="reseller:acme/bob", reason="contract ended")
    t = shop.get_tenant("shop1")
    assert t.status == "removed" and t.status_reason == "contract ended"
    with pytest.raises(ConflictError):
        shop.remove_node("node1", actor="ops:a")
    shop.purge_tenant("shop1", actor="ops:a")
    with pytest.raises(NotFoundError):
        shop.get_tenant("shop1")
    shop.remove_node("node1", actor="ops:a")
    shop.remove_reseller("acme", actor="ops:a")
    assert shop.list_resellers() == [] and shop.list_plans() == []
    assert git(shop.root, "ls-files", "state").split() == [
        f"state/{d}/.gitkeep" for d in ("nodes", "plans", "resellers", "tenants")]


def test_add_tenant_places_it_and_checks_capacity(store):
    store.put_node({**NODE, "name": "node2", "address": "127.0.0.2",
                    "capacity": {"tenants": 5, "disk_mb": 10**6}}, actor="ops:a")
    store.put_node({**NODE, "capacity": {"tenants": 1, "disk_mb": 10**6}}, actor="ops:a")
    rec = tenant_record("shop1")
    del rec["node"]
    store.add_tenant(rec, password="tenant-password-1", actor="ops:a")
    assert store.get_tenant("shop1").node == "node2"  # the node with more room
    store.add_tenant(tenant_record("shop2"), password="tenant-password-1", actor="ops:a")
    with pytest.raises(ValidationError, match="full"):
        store.add_tenant(tenant_record("shop3"), password="tenant-password-1", actor="ops:a")
    with pytest.raises(ValidationError, match="tenants are placed"):
        store.put_node({**NODE, "capacity": {"tenants": 0, "disk_mb": 1}}, actor="ops:a")
    store.add_domain("shop2", "shop2.example", actor="ops:a")
    store.add_mailbox("shop2", "a@shop2.example", "mailbox-pass-1", 1, actor="ops:a")
    with pytest.raises(ValidationError, match="does not run mail"):
        store.put_node({**NODE, "services": ["web"]}, actor="ops:a")


def test_reseller_limits(store):
    store.change_reseller("acme", {"limits": {"tenants": 1}}, actor="ops:a")
    store.add_tenant(tenant_record("shop1"), password="tenant-password-1", actor="ops:a")
    with pytest.raises(ValidationError, match="limit"):
        store.add_tenant(tenant_record("shop2"), password="tenant-password-1", actor="ops:a")
    with pytest.raises(ValidationError, match="limit"):
        store.change_reseller("acme", {"limits": {"tenants": 0}}, actor="ops:a")


def test_existing_ids_and_missing_objects(shop):
    with pytest.raises(ConflictError, match="already exists"):
        shop.add_tenant(tenant_record("shop1"), password="tenant-password-1", actor="ops:a")
    with pytest.raises(NotFoundError):
        shop.get_tenant("../../etc/passwd")
    with pytest.raises(NotFoundError):
        shop.change_tenant("nosuch", {"contractor": "x"}, actor="ops:a")
    with pytest.raises(NotFoundError):
        shop.remove_mailbox("shop1", "none@shop1.example", actor="ops:a")
    with pytest.raises(ValidationError, match="password"):
        shop.add_tenant(tenant_record("shop2", password_hash="$6$x"), password="p" * 10,
                        actor="ops:a")


def test_lists_filter_sort_and_paginate(store):
    for i, name in enumerate(["delta", "alpha", "charlie", "bravo"]):
        store.add_tenant(tenant_record(f"{name}1", contractor=f"{name.title()} Co",
                                       domains=[f"{name}.example"]),
                         password="tenant-password-1", actor="ops:a")
        if i == 2:
            store.set_tenant_status(f"{name}1", "suspended", actor="ops:a", reason="unpaid")
    ids = [t.id for t in store.list_tenants()]
    assert ids == ["alpha1", "bravo1", "charlie1", "delta1"]
    assert [t.id for t in store.list_tenants(sort="-contractor", offset=1, limit=2)] == [
        "charlie1", "bravo1"]
    assert [t.id for t in store.list_tenants(status="suspended")] == ["charlie1"]
    assert [t.id for t in store.list_tenants(q="BRAVO.EX")] == ["bravo1"]
    assert store.count_tenants(reseller="acme", node="node1") == 4
    assert store.list_tenants(reseller="other") == []
    row = store.list_tenants(q="alpha")[0]
    assert row.domains == ["alpha.example"] and row.version == store.get_tenant("alpha1").version
    assert [n.name for n in store.list_nodes()] == ["node1"]
    assert [p.id for p in store.list_plans("acme")] == ["basic"]


def test_hand_edits_committed_by_ops_are_read_back(shop):
    path = shop.root / "state/tenants/shop1.yml"
    data = yamlio.loads(path.read_bytes())
    data["contractor"] = "Edited In Vim"
    path.write_bytes(yamlio.dumps(data))
    git(shop.root, "commit", "-qam", "ops: fix contractor")
    assert shop.list_tenants()[0].contractor in ("Edited In Vim", "Contractor of shop1")
    shop.refresh()
    assert shop.list_tenants()[0].contractor == "Edited In Vim"
    assert shop.get_tenant("shop1").contractor == "Edited In Vim"


def test_invalid_hand_edit_is_reported_not_built_upon(shop):
    path = shop.root / "state/tenants/shop1.yml"
    path.write_text(path.read_text().replace("node: node1", "node: ../etc"))
    git(shop.root, "commit", "-qam", "broken edit")
    with pytest.raises(OemhostError, match="invalid on disk"):
        shop.change_tenant("shop1", {"contractor": "x"}, actor="ops:a")
    lines = [i.line for i in shop.issues()]
    assert any(line.startswith("shop1: node: ") for line in lines)


def test_inventory_inside_an_enclosing_repository(tmp_path):
    outer = tmp_path / "ops-repo"
    outer.mkdir()
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    (outer / "README").write_text("ops\n")
    git(outer, "add", "README")
    git(outer, "-c", "user.name=o", "-c", "user.email=o@x", "commit", "-qm", "start")
    inv = outer / "inventories" / "prod"
    inv.mkdir(parents=True)
    # an inventory directory that lives inside another repository uses that repository
    for rel in ("oemhost.yml", "state/nodes/.gitkeep"):
        (inv / rel).parent.mkdir(parents=True, exist_ok=True)
        (inv / rel).write_text("plugin: oemhost_state\n" if rel == "oemhost.yml" else "")
    store = Store(inv)
    (outer / "README").write_text("staged by ops\n")
    git(outer, "add", "README")  # staged, not committed: must not end up in the store's commit
    store.put_node(NODE, actor="ops:a")
    assert git(outer, "show", "--name-only", "--format=", "HEAD").split() == [
        "inventories/prod/state/nodes/node1.yml"]
    assert git(outer, "diff", "--cached", "--name-only").split() == ["README"]
    assert store.history()[0]["subject"] == "node node1: add"


def test_plan_record_keeps_its_reseller(store):
    with pytest.raises(ValidationError, match="reseller"):
        store.add_plan("acme", {**PLAN, "id": "x1", "reseller": "other"}, actor="ops:a")
    with pytest.raises(NotFoundError):
        store.add_plan("ghost", {**PLAN, "id": "x1"}, actor="ops:a")


def test_the_labs_node_records_are_accepted(tmp_path):
    """The lab writes its nodes with put_node(actor="lab"): its records must validate."""
    from oemhost.store import validate

    record = {
        "name": "lab-node1", "address": "10.77.3.11",
        "connection": {"user": "root", "port": 22,
                       "private_key_file": "/work/checkout/.lab/lab/id_ed25519",
                       "ssh_common_args": "-o UserKnownHostsFile=/work/checkout/.lab/lab/"
                                          "known_hosts -o StrictHostKeyChecking=yes"},
        "services": ["web", "mail", "ftp", "mariadb", "postgresql", "dns"],
        "owner": "shared",
        "infra": {"provider": "lab", "params": {"lab": "lab", "node": "lab-node1",
                                                 "project_dir": "/work/checkout"}},
        "capacity": {"tenants": 500, "disk_mb": 8192},
    }
    assert validate.check_node(record)[1] == {}
    store = Store.init(tmp_path / "lab-inv")
    store.put_node(record, actor="lab", reason="lab up")
    store.put_node(record, actor="lab", reason="lab up again")  # idempotent: no new commit
    assert git(store.root, "rev-list", "--count", "HEAD").strip() == "2"
    store.remove_node("lab-node1", actor="lab", reason="lab down")
    assert store.list_nodes() == []


def test_threads_share_one_store(store):
    import threading

    for i in range(6):
        store.add_tenant(tenant_record(f"thr{i}", domains=[f"thr{i}.example"]),
                         password="tenant-password-1", actor="ops:a")
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            store.add_domain(f"thr{i}", f"extra{i}.example", actor="ops:a")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(20):
                assert len(store.list_tenants(q="thr")) == 6
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(store.get_tenant(f"thr{i}").domains) == 2 for i in range(6))
    assert git(store.root, "status", "--porcelain") == ""


def test_a_write_gives_up_cleanly_when_the_lock_stays_busy(shop):
    import fcntl
    import os

    from oemhost.store import store as store_module

    path = shop.git.git_dir / "oemhost-store.lock"
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    impatient = Store(shop.root, lock_timeout=0.3)
    before = git(shop.root, "rev-parse", "HEAD")
    with pytest.raises(ConflictError, match="busy"):
        impatient.change_tenant("shop1", {"contractor": "x"}, actor="ops:a")
    os.close(holder)  # the abandoned waiter takes the lock and gives it back at once
    fd = store_module._acquire_flock(path, 5)
    os.close(fd)
    assert git(shop.root, "rev-parse", "HEAD") == before
    shop.change_tenant("shop1", {"contractor": "after"}, actor="ops:a")
    assert shop.get_tenant("shop1").contractor == "after"
