from __future__ import annotations

import pytest
from modload import load as load_module

quota = load_module("oemhost_quota")
MB = 1024 * 1024

QGROUPS = """\
Qgroupid Referenced Exclusive Max referenced Max exclusive Parent Child Path
-------- ---------- --------- -------------- ------------- ------ ----- ----
0/5  16384  16384  none  none -  -  <toplevel>
0/259  1048576  1048576  10485760  none 1/10000  -  hosting/shop1/mail
0/260  8388608  8388608  31457280  none 1/10000  -  hosting/shop1/web
1/10000  9437184  9437184  52428800  none -  0/259,0/260  <0>
"""
SUBVOLS = """\
ID 259 gen 9 top level 5 path hosting/shop1/mail
ID 260 gen 9 top level 5 path hosting/shop1/web
"""


def test_parse_qgroups():
    q = quota.parse_qgroups(QGROUPS)
    assert q["0/260"] == {"rfer": 8388608, "excl": 8388608, "max_rfer": 31457280,
                          "max_excl": None, "parents": ["1/10000"], "children": []}
    assert q["1/10000"]["children"] == ["0/259", "0/260"]
    assert "0/5" in q and len(q) == 4


def test_parse_subvolumes():
    assert quota.parse_subvolumes(SUBVOLS) == {"hosting/shop1/mail": 259, "hosting/shop1/web": 260}


def backend(tmp_path, qgroups=QGROUPS, subvols=SUBVOLS):
    """A btrfs backend reading recorded command output (the real commands run in molecule)."""
    calls = []

    def run(argv):
        calls.append(argv)
        if argv[0] == "findmnt":
            return f"{tmp_path} btrfs\n"
        if argv[:3] == ["btrfs", "qgroup", "show"]:
            return qgroups
        if argv[:3] == ["btrfs", "subvolume", "list"]:
            return subvols
        raise AssertionError(argv)

    (tmp_path / "hosting" / "shop1").mkdir(parents=True)
    b = quota.BtrfsBackend(str(tmp_path / "hosting"), run)
    b.load()
    return b


def texts(steps):
    return [s.text for s in steps]


def test_usage_per_area_and_total(tmp_path):
    b = backend(tmp_path)
    assert b.usage(["shop1"]) == {"shop1": {
        "mail": {"used": MB, "limit": 10 * MB}, "web": {"used": 8 * MB, "limit": 30 * MB},
        "total": {"used": 9 * MB, "limit": 50 * MB}}}
    assert b.known_tenants() == ["shop1"]


def test_moving_the_split_changes_only_the_limits(tmp_path):
    b = backend(tmp_path)
    steps = b.plan_tenant({"tenant": "shop1", "areas": {"web": 15, "mail": 25}, "total_mb": 50},
                          {}, set())
    assert [t for t in texts(steps) if t.startswith("limit")] == [
        "limit mail: 10 MB -> 25 MB", "limit web: 30 MB -> 15 MB"]


def test_same_limits_need_nothing(tmp_path):
    b = backend(tmp_path)
    steps = b.plan_tenant({"tenant": "shop1", "areas": {"web": 30, "mail": 10}, "total_mb": 50},
                          {}, set())
    # only the owner of the areas can differ here (no such user on the test machine)
    assert all("owner" in t for t in texts(steps)), texts(steps)


def test_new_tenant_gets_group_areas_and_limits(tmp_path):
    b = backend(tmp_path, qgroups="", subvols="")
    (tmp_path / "hosting" / "shop2").mkdir()
    steps = b.plan_tenant({"tenant": "shop2", "areas": {"web": 20, "mail": 10}, "total_mb": 40},
                          {}, set())
    argvs = [s.argv for s in steps if s.argv]
    assert argvs[0][:3] == ["btrfs", "qgroup", "create"]
    parent = argvs[0][3]
    assert ["btrfs", "subvolume", "create", "-i", parent,
            str(tmp_path / "hosting" / "shop2" / "web")] in argvs
    assert ["btrfs", "qgroup", "limit", str(40 * MB), parent, str(tmp_path)] in argvs


def test_missing_home_is_an_error(tmp_path):
    b = backend(tmp_path)
    with pytest.raises(quota.QuotaError, match="home"):
        b.plan_tenant({"tenant": "nobody1", "areas": {"web": 1}, "total_mb": 2}, {}, set())


def test_absent_deletes_areas_and_group(tmp_path):
    b = backend(tmp_path)
    steps = b.plan_tenant({"tenant": "shop1", "areas": {}, "state": "absent"},
                          {"web": {}, "mail": {}}, set())
    assert texts(steps) == ["delete area mail with its data", "delete area web with its data",
                            "remove limit group 1/10000"]


def test_busy_group_is_detached_from_its_children_and_destroyed(tmp_path):
    """A just-deleted area's qgroup still hangs on the group (the kernel's cleaner has not
    run): the destroy waits for the cleaner, removes the relations and tries again."""
    b = backend(tmp_path)
    calls, busy = [], [True]

    def run(argv):
        calls.append(argv[:4])
        if argv[:3] == ["btrfs", "qgroup", "destroy"] and busy[0]:
            busy[0] = False
            raise quota.QuotaError("btrfs qgroup destroy 1/10000 /x: ERROR: unable to destroy "
                                   "quota group: Device or resource busy")
        if argv[:3] == ["btrfs", "qgroup", "remove"] and argv[3] == "0/259":
            raise quota.QuotaError("No such file or directory")
        return ""

    b.run = run
    b._destroy_qgroup("1/10000")
    assert calls == [["btrfs", "qgroup", "destroy", "1/10000"],
                     ["btrfs", "subvolume", "sync", str(tmp_path)],
                     ["btrfs", "qgroup", "remove", "0/259"],
                     ["btrfs", "qgroup", "remove", "0/260"],
                     ["btrfs", "qgroup", "destroy", "1/10000"]]
    b.run = lambda argv: (_ for _ in ()).throw(quota.QuotaError("Operation not permitted"))
    with pytest.raises(quota.QuotaError):
        b._destroy_qgroup("1/10000")


def test_not_btrfs_is_refused(tmp_path):
    with pytest.raises(quota.QuotaError, match="not btrfs"):
        quota.BtrfsBackend(str(tmp_path), lambda argv: f"{tmp_path} ext4\n")


def test_missing_base_is_looked_up_on_its_parent(tmp_path):
    seen = []

    def run(argv):
        seen.append(argv[-1])
        return f"{tmp_path} btrfs\n"

    b = quota.BtrfsBackend(str(tmp_path / "srv" / "hosting"), run)
    assert b.mount == str(tmp_path)
    assert seen == [str(tmp_path)]
