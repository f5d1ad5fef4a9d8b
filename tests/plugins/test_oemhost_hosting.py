from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "oemhost_hosting.py"
spec = importlib.util.spec_from_file_location("oemhost_hosting", PATH)
hosting = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hosting)

HASH = "$6$salt$" + "b" * 86
LIMITS = {"disk_mb": 50, "max_domains": 3, "max_ftp_accounts": 2, "ssh": True,
          "ftps_required": True}


def tenant(tid="shop1", **kw):
    t = {"id": tid, "plan": "basic", "status": "active", "disk": {"web_mb": 30, "mail_mb": 10},
         "ssh": True, "password_hash": HASH, "limits": dict(LIMITS),
         "domains": [{"name": f"{tid}.example", "docroot": "public_html",
                      "aliases": [f"www.{tid}.example"], "tls": {"mode": "selfsigned"}}],
         "ftp_accounts": [{"name": f"{tid}-up", "password_hash": HASH, "dir": "public_html/up"}]}
    t.update(kw)
    return t


def errors(*tenants, **kw):
    return hosting.hosting_errors(list(tenants), **kw)


def test_good_tenants_have_no_errors():
    assert errors(tenant("shop1"), tenant("shop2")) == []


def test_domain_with_a_space():
    t = tenant()
    t["domains"][0]["name"] = "bad name.example"
    assert errors(t) == ["shop1: domains[0].name: 'bad name.example' is not a valid lowercase "
                         "(punycode) domain name"]


@pytest.mark.parametrize("where", ["docroot", "ftp"])
def test_dotdot_in_a_directory(where):
    t = tenant()
    if where == "docroot":
        t["domains"][0]["docroot"] = "../shop2/web"
        field = "domains[0].docroot"
    else:
        t["ftp_accounts"][0]["dir"] = "public_html/../../etc"
        field = "ftp_accounts[0].dir"
    (err,) = errors(t)
    assert err.startswith(f"shop1: {field}: ") and "'..'" in err


@pytest.mark.parametrize("path", ["/etc", ".hidden", "a//b", "a/./b", "a b", ""])
def test_paths_that_are_not_plain(path):
    assert not hosting.is_rel_path(path)


def test_unknown_plan():
    t = tenant(plan="nosuch")
    del t["limits"]
    assert errors(t) == ["shop1: plan: unknown plan 'nosuch': no plan limits were resolved "
                         "for this tenant"]


def test_duplicate_domain_across_tenants_names_both():
    a, b = tenant("shop1"), tenant("shop2")
    b["domains"][0]["aliases"] = ["www.shop1.example"]
    assert errors(a, b) == ["shop2: domains[0].aliases[0]: www.shop1.example is also claimed "
                            "by tenant shop1 (domains[0].aliases[0])"]


def test_duplicate_is_found_in_a_scoped_run_too():
    a, b = tenant("shop1"), tenant("shop2")
    b["domains"][0]["name"] = "shop1.example"
    assert any("also claimed by tenant shop1" in e for e in errors(a, b, scope=["shop2"]))


def test_plan_limits_and_split():
    t = tenant(disk={"web_mb": 45, "mail_mb": 10})
    t["ftp_accounts"] = [{"name": f"shop1-a{i}", "password_hash": HASH} for i in range(3)]
    errs = errors(t)
    assert "shop1: disk: web 45 MB + mail 10 MB is more than the plan's 50 MB" in errs
    assert "shop1: ftp_accounts: 3 FTP accounts, the plan allows 2" in errs


def test_ftp_name_must_carry_the_tenant_prefix():
    t = tenant()
    t["ftp_accounts"][0]["name"] = "shop2-up"
    assert errors(t) == ["shop1: ftp_accounts[0].name: 'shop2-up' must be "
                         "shop1-<a-z0-9, up to 15>"]


def test_injection_attempts_are_refused():
    t = tenant()
    t["domains"][0]["name"] = "a.example\n    Include /etc/shadow"
    t["password_hash"] = "{{ lookup('pipe', 'id') }}"
    t["id"] = "shop1"
    errs = errors(t)
    assert any(e.startswith("shop1: domains[0].name") for e in errs)
    assert "shop1: password_hash: must be a SHA512-crypt ($6$) hash" in errs


def test_bad_ids_statuses_and_scope():
    assert errors({"id": "Bad-Id"})[0].startswith("oemhost_tenants[0]: id:")
    assert errors(tenant(status="removed"))[0].startswith("shop1: status:")
    assert errors(tenant(id="root")) == ["root: id: 'root' is reserved for the system"]
    assert errors(tenant(), scope="shop1") == [
        "oemhost_tenant_scope: value: must be a list of tenant ids"]


def test_php_version_offered():
    t = tenant()
    t["domains"][0]["php_version"] = "7.4"
    assert errors(t, php_versions=["8.2"]) == [
        "shop1: domains[0].php_version: PHP 7.4 is not offered on this node (8.2)"]


def test_users_ssh_needs_plan_wish_and_active():
    no_plan = tenant("shop2")
    no_plan["limits"]["ssh"] = False
    suspended = tenant("shop3", status="suspended")
    users = hosting.hosting_users([tenant(), no_plan, suspended], [tenant("old1")])
    assert [(u["name"], u["ssh"], u["locked"]) for u in users] == [
        ("shop1", True, False), ("shop2", False, False), ("shop3", False, True),
        ("old1", False, True)]


def test_scope():
    ts = [tenant("shop1"), tenant("shop2")]
    assert [t["id"] for t in hosting.hosting_scope(ts, ["shop2"])] == ["shop2"]
    assert hosting.hosting_scope(ts, None) == ts


def test_areas():
    assert hosting.hosting_areas([tenant()]) == [
        {"tenant": "shop1", "areas": {"web": 30, "mail": 10}, "total_mb": 50}]


def test_sites_use_own_certificate_only_when_present():
    t = tenant()
    t["domains"].append({"name": "own.example", "tls": {"mode": "own", "cert_ref": "own.example"}})
    sites = hosting.web_sites([t], "/srv/hosting", "/etc/oemhost/tls")
    assert sites[0]["domains"][1]["cert"] == "/etc/oemhost/tls/selfsigned/own.example/fullchain.pem"
    sites = hosting.web_sites([t], "/srv/hosting", "/etc/oemhost/tls", ["own.example"])
    assert sites[0]["domains"][1]["cert"] == "/etc/oemhost/tls/own.example/fullchain.pem"
    assert sites[0]["domains"][0]["docroot"] == "/srv/hosting/shop1/web/public_html"


def test_ftp_accounts_of_active_tenants_only():
    lite = tenant("shop2", status="suspended")
    accounts = hosting.ftp_accounts([tenant(), lite], "/srv/hosting")
    assert [(a["login"], a["user"], a["dir"], a["tls_required"]) for a in accounts] == [
        ("shop1", "shop1", "/srv/hosting/shop1/web", True),
        ("shop1-up", "shop1", "/srv/hosting/shop1/web/public_html/up", True)]


def test_records_are_not_modified():
    t = tenant()
    before = copy.deepcopy(t)
    errors(t)
    hosting.web_sites([t], "/srv/hosting", "/etc/oemhost/tls")
    assert t == before


def test_a_plan_without_mail_may_give_the_mail_area_nothing():
    webonly = tenant(disk={"web_mb": 50, "mail_mb": 0}, limits={**LIMITS, "mail": False})
    assert errors(webonly) == []
    assert hosting.hosting_areas([webonly]) == [
        {"tenant": "shop1", "areas": {"web": 50}, "total_mb": 50}]
    with_mail = tenant(disk={"web_mb": 50, "mail_mb": 0}, limits={**LIMITS, "mail": True})
    assert "shop1: disk.mail_mb: must be a whole number of MB, at least 1" in errors(with_mail)
    no_web = tenant(disk={"web_mb": 0, "mail_mb": 0}, limits={**LIMITS, "mail": False})
    assert "shop1: disk.web_mb: must be a whole number of MB, at least 1" in errors(no_web)
