"""The mail role's validation filter: what it accepts, flattens and refuses."""

from __future__ import annotations

import copy
import importlib.util
import json

import pytest

from oemhost.config import PROJECT_DIR

_spec = importlib.util.spec_from_file_location(
    "oemhost_mail_filter", PROJECT_DIR / "roles/mail/filter_plugins/oemhost_mail.py")
mail = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mail)

HASH = "{SHA512-CRYPT}$6$rounds=5000$abcdefgh12345678$" + "A" * 86
PLAN = {"mail": True, "max_mailboxes": 3, "max_mailbox_mb": 100,
        "mail_limits": {"per_hour": 200, "per_day": 2000}}


def box(address, **kw):
    return {"address": address, "password_hash": HASH, "quota_mb": 50, "forwards": [],
            "locked": None, **kw}


def tenant(tid, domains, boxes, **kw):
    return {"id": tid, "status": "active", "limits": copy.deepcopy(PLAN),
            "domains": [{"name": d, "tls": {"mode": "selfsigned"}} for d in domains],
            "mailboxes": boxes, **kw}


def state(tenants, **kw):
    return mail.mail_state(tenants, default_limits={"per_hour": 100, "per_day": 1000}, **kw)


def test_valid_state_is_flattened_sorted_and_complete():
    out = state([
        tenant("shop1", ["shop1.example", "xn--wgv71a.example"], [
            box("sales@shop1.example", forwards=["a@elsewhere.example", "a@elsewhere.example"]),
            box("info@xn--wgv71a.example", quota_mb=100),
        ]),
        tenant("cafe2", ["cafe2.example"], [box("info@cafe2.example")]),
    ])
    assert out["errors"] == []
    assert out["domains"] == ["cafe2.example", "shop1.example", "xn--wgv71a.example"]
    assert [b["address"] for b in out["mailboxes"]] == [
        "info@cafe2.example", "info@xn--wgv71a.example", "sales@shop1.example"]
    info = out["mailboxes"][1]
    assert info["home"] == "/srv/hosting/shop1/mail/xn--wgv71a.example/info"
    assert (info["uid"], info["gid"], info["quota_mb"]) == ("shop1", "shop1", 100)
    assert info["login"] and info["send"]
    assert out["forwards"] == [{"address": "sales@shop1.example",
                                "targets": ["a@elsewhere.example"]}]
    assert out["rate_limits"]["info@cafe2.example"] == [[200, 3600], [2000, 86400]]
    assert out["locked"] == [] and out["refused_senders"] == []
    assert out["tenants"] == ["cafe2", "shop1"]


def test_address_on_a_domain_the_tenant_does_not_own_is_refused():
    out = state([
        tenant("shop1", ["shop1.example"], [box("info@cafe2.example")]),
        tenant("cafe2", ["cafe2.example"], []),
    ])
    assert out["errors"] == ["shop1: mailboxes[0].address: info@cafe2.example: the domain "
                             "cafe2.example is not one of this tenant's domains"]


def test_quota_above_the_plan_is_refused():
    out = state([tenant("shop1", ["shop1.example"], [box("a@shop1.example", quota_mb=101)])])
    assert out["errors"] == ["shop1: mailboxes[0].quota_mb: 101 MB is above the plan's "
                             "mailbox size 100 MB"]


@pytest.mark.parametrize("quota", [0, -1, "50", 1.5, True, None])
def test_quota_must_be_a_positive_whole_number(quota):
    out = state([tenant("shop1", ["shop1.example"], [box("a@shop1.example", quota_mb=quota)])])
    assert out["errors"] == ["shop1: mailboxes[0].quota_mb: must be a whole number of MB >= 1"]


def test_more_mailboxes_than_the_plan_allows():
    boxes = [box(f"u{i}@shop1.example") for i in range(4)]
    out = state([tenant("shop1", ["shop1.example"], boxes)])
    assert out["errors"] == ["shop1: mailboxes: 4 mailboxes, the plan allows 3"]


def test_mailboxes_on_a_plan_without_mail():
    t = tenant("shop1", ["shop1.example"], [box("a@shop1.example")])
    t["limits"]["mail"] = False
    out = state([t])
    assert out["errors"] == ["shop1: mailboxes: the plan has no mail service, but mailboxes "
                             "are defined"]
    assert out["domains"] == []


def test_a_plan_without_mail_and_no_mailboxes_serves_no_domain():
    t = tenant("shop1", ["shop1.example"], [])
    t["limits"]["mail"] = False
    out = state([t])
    assert out["errors"] == [] and out["domains"] == [] and out["tenants"] == []


@pytest.mark.parametrize("address", [
    "Info@shop1.example", "info@shop1.example\nsmtpd_relay_restrictions = permit",
    "in fo@shop1.example", "info:x@shop1.example", "info@@shop1.example", ".info@shop1.example",
    "-info@shop1.example", "info.@shop1.example", "INFO@shop1.example", "info,x@shop1.example",
    "info..x@shop1.example", "info@shop1.example ", "{{ lookup('pipe', 'id') }}@shop1.example",
    "info", 42, "info@shop1.example\n", "info\n@shop1.example",
])
def test_addresses_that_could_inject_are_refused(address):
    out = state([tenant("shop1", ["shop1.example"], [box(address)])])
    assert len(out["errors"]) == 1
    assert out["errors"][0].startswith("shop1: mailboxes[0].address: not a valid lowercase")
    assert out["mailboxes"] == []


@pytest.mark.parametrize("address", ["a+b@shop1.example", "a_b-c.d@shop1.example",
                                     "a-@shop1.example"])
def test_addresses_the_store_allows_are_accepted(address):
    # forwarding targets keep their capitals (the store keeps the local part as given)
    mailbox = box(address, forwards=["John.Doe+x@mail.example"])
    out = state([tenant("shop1", ["shop1.example"], [mailbox])])
    assert out["errors"] == [] and out["mailboxes"][0]["address"] == address


def test_quota_above_the_mail_area():
    out = state([tenant("shop1", ["shop1.example"], [box("a@shop1.example", quota_mb=60)],
                        disk={"web_mb": 100, "mail_mb": 50})])
    assert out["errors"] == ["shop1: mailboxes[0].quota_mb: 60 MB is above the tenant's mail "
                             "area 50 MB (disk.mail_mb)"]


@pytest.mark.parametrize("pw", ["$6$abc$def", HASH + "\nx:y", HASH + "\n", "{PLAIN}secret", "",
                                None, HASH.replace("SHA512", "MD5")])
def test_malformed_hashes_are_refused_without_echoing_them(pw):
    out = state([tenant("shop1", ["shop1.example"], [box("a@shop1.example", password_hash=pw)])])
    assert out["errors"] == ["shop1: mailboxes[0].password_hash: must be a Dovecot "
                             "{SHA512-CRYPT}$6$... hash"]


def test_forwards_are_checked():
    bad = [box("a@shop1.example", forwards=["ok@x.example", "bad\n@x.example"]),
           box("b@shop1.example", forwards=["b@shop1.example"]),
           box("c@shop1.example", forwards=[f"f{i}@x.example" for i in range(3)])]
    out = state([tenant("shop1", ["shop1.example"], bad)], max_forwards=2)
    assert out["errors"] == [
        "shop1: mailboxes[0].forwards[1]: not a valid lowercase address (or the mailbox itself)",
        "shop1: mailboxes[1].forwards[0]: not a valid lowercase address (or the mailbox itself)",
        "shop1: mailboxes[2].forwards: must be a list of at most 2 addresses",
    ]


def test_a_domain_claimed_by_two_tenants():
    out = state([tenant("shop1", ["shared.example"], []),
                 tenant("cafe2", ["shared.example"], [])])
    assert out["errors"] == ["cafe2: domains[0].name: shared.example is also claimed by "
                             "tenant shop1"]


def test_duplicate_address():
    out = state([tenant("shop1", ["shop1.example"], [box("a@shop1.example"),
                                                     box("a@shop1.example")])])
    assert out["errors"] == ["shop1: mailboxes[1].address: a@shop1.example is defined twice"]


def test_bad_tenant_id_and_domain_name():
    out = state([tenant("Shop1", ["shop1.example"], []),
                 tenant("shop9\n", ["shop9.example"], []),
                 tenant("cafe2", ["cafe2.example\nOK", "cafe2.example\n"], [])])
    assert out["errors"] == [
        "oemhost_tenants[0]: id: must match ^[a-z][a-z0-9]{2,15}$",
        "oemhost_tenants[1]: id: must match ^[a-z][a-z0-9]{2,15}$",
        "cafe2: domains[0].name: not a valid lowercase (punycode) domain name",
        "cafe2: domains[1].name: not a valid lowercase (punycode) domain name",
    ]


def test_locks_and_suspension():
    out = state([
        tenant("shop1", ["shop1.example"], [
            box("a@shop1.example", locked={"reason": "mass mail: 250/h", "at": "2026-11-24",
                                           "by": "monitor"}),
            box("b@shop1.example", locked={"reason": "abuse", "at": "2026-11-24", "by": "ops",
                                           "login": True}),
            box("c@shop1.example"),
        ]),
        tenant("cafe2", ["cafe2.example"], [box("x@cafe2.example")], status="suspended"),
    ])
    assert out["errors"] == []
    by = {b["address"]: (b["login"], b["send"]) for b in out["mailboxes"]}
    assert by == {"a@shop1.example": (True, False), "b@shop1.example": (False, False),
                  "c@shop1.example": (True, True), "x@cafe2.example": (False, False)}
    assert out["locked"] == ["a@shop1.example", "b@shop1.example"]
    assert out["refused_senders"] == [
        {"address": "a@shop1.example", "why": "locked"},
        {"address": "b@shop1.example", "why": "locked"},
        {"address": "x@cafe2.example", "why": "suspended"},
    ]
    # a suspended tenant still receives: its domain and mailbox stay in the tables
    assert "cafe2.example" in out["domains"]


@pytest.mark.parametrize("locked, field", [
    ("yes", "locked"), ({"at": "x", "by": "ops"}, "locked.reason"),
    ({"reason": "r", "by": "ops"}, "locked.at"), ({"reason": "r", "at": "x", "by": "o",
                                                   "login": "no"}, "locked.login"),
])
def test_malformed_lock_records(locked, field):
    out = state([tenant("shop1", ["shop1.example"], [box("a@shop1.example", locked=locked)])])
    assert [e.split(": ")[1] for e in out["errors"]] == [f"mailboxes[0].{field}"]


def test_plan_sending_limits_and_defaults():
    t1 = tenant("shop1", ["shop1.example"], [box("a@shop1.example")])
    del t1["limits"]["mail_limits"]
    t2 = tenant("cafe2", ["cafe2.example"], [box("a@cafe2.example")])
    t2["limits"]["mail_limits"] = {"per_hour": 0, "per_day": 10}
    out = state([t1, t2])
    assert out["rate_limits"] == {"a@shop1.example": [[100, 3600], [1000, 86400]]}
    assert out["errors"] == ["cafe2: limits.mail_limits.per_hour: must be a whole number >= 1"]


def test_tls_domains_for_sni():
    t = tenant("shop1", ["shop1.example", "own.example", "acme.example"], [])
    t["domains"][1]["tls"] = {"mode": "own"}
    t["domains"][2]["tls"] = {"mode": "acme"}
    assert state([t])["tls_domains"] == ["acme.example", "own.example"]


def test_not_a_list():
    assert state({"id": "shop1"})["errors"] == ["oemhost_tenants: must be a list of tenant records"]
    assert state(None)["errors"] == []


SETTINGS = {"hosting_root": "/srv/hosting", "default_limits": {"per_hour": 100, "per_day": 1000},
            "max_forwards": 20, "header": "Managed\nby test", "locked_text": "locked [x]",
            "suspended_text": "suspended [y]", "rate_fail_text": "slow down [z]",
            "policyd_database": "/var/lib/p/db.sqlite3"}


def test_tables_are_rendered_exactly():
    t1 = tenant("shop1", ["shop1.example"], [
        box("info@shop1.example", forwards=["a@x.example"],
            locked={"reason": "spam\nREJECT all", "at": "now", "by": "monitor"}),
        box("sales@shop1.example", quota_mb=20)])
    t2 = tenant("cafe2", ["cafe2.example"], [box("x@cafe2.example")], status="suspended")
    t2["limits"]["mail_limits"] = {"per_hour": 5, "per_day": 8}
    out = mail.mail_tables([t1, t2], SETTINGS)
    assert out["errors"] == [] and out["tenants"] == ["cafe2", "shop1"]
    files = out["files"]
    head = "# Managed\n# by test\n"
    assert files["domains"] == head + ("# Role mail: tenant domains whose plan has mail.\n"
                                       "cafe2.example OK\nshop1.example OK\n")
    assert files["mailboxes"].endswith("\ninfo@shop1.example info@shop1.example\n"
                                       "sales@shop1.example sales@shop1.example\n"
                                       "x@cafe2.example x@cafe2.example\n")
    assert files["forwards"].endswith("\ninfo@shop1.example info@shop1.example,a@x.example\n")
    # the lock's reason is inventory data: it never reaches a table
    assert "spam" not in "".join(files.values())
    assert files["refused_senders"].endswith("\ninfo@shop1.example REJECT locked [x]\n"
                                             "x@cafe2.example REJECT suspended [y]\n")
    lines = [ln for ln in files["passwd"].splitlines() if not ln.startswith("#")]
    assert lines == [
        f"info@shop1.example:{HASH}:shop1:shop1::/srv/hosting/shop1/mail/shop1.example/info::"
        "userdb_quota_rule=*:storage=50M",
        f"sales@shop1.example:{HASH}:shop1:shop1::/srv/hosting/shop1/mail/shop1.example/sales::"
        "userdb_quota_rule=*:storage=20M",
        f"x@cafe2.example:{HASH}:cafe2:cafe2::/srv/hosting/cafe2/mail/cafe2.example/x::"
        "userdb_quota_rule=*:storage=50M nologin=y",
    ]
    body = json.loads("".join(ln + "\n" for ln in files["policyd"].splitlines()
                              if not ln.startswith("#")))
    assert body["limits"] == [[200, 3600], [2000, 86400]]            # the common plan
    assert body["limits_by_id"] == {"x@cafe2.example": [[5, 3600], [8, 86400]]}
    assert body["fail_action"] == "defer_if_permit 4.7.1 slow down [z]"
    assert body["group"] == "postfix" and body["socket_permission"] == 0o660
    assert body["sqlite_config"] == {"database": "/var/lib/p/db.sqlite3"}


def test_invalid_state_renders_nothing():
    out = mail.mail_tables([tenant("shop1", ["shop1.example"], [box("a@x.example")])], SETTINGS)
    assert out["files"] == {} and len(out["errors"]) == 1


@pytest.mark.parametrize("name", ["locked_text", "suspended_text", "rate_fail_text"])
def test_provider_texts_must_be_one_line(name):
    out = mail.mail_tables([], {**SETTINGS, name: "two\nlines"})
    assert out["errors"] == [f"mail__{name}: must be one line of text"] and out["files"] == {}


def test_default_limits_are_checked():
    out = mail.mail_tables([], {**SETTINGS, "default_limits": {"per_hour": 0, "per_day": 5}})
    assert out["errors"] == ["mail__rate_default_limits.per_hour: must be a whole number >= 1"]


def test_common_limits_become_the_default():
    common, exceptions = mail.split_limits(
        {"a": [[5, 3600], [8, 86400]], "b": [[9, 3600], [9, 86400]],
         "c": [[9, 3600], [9, 86400]]}, {"per_hour": 1, "per_day": 2})
    assert common == [[9, 3600], [9, 86400]] and exceptions == {"a": [[5, 3600], [8, 86400]]}
    # a tie picks the smaller limits, so the result does not depend on order
    common, _ = mail.split_limits({"a": [[9, 3600], [9, 86400]], "b": [[5, 3600], [8, 86400]]},
                                  {"per_hour": 1, "per_day": 2})
    assert common == [[5, 3600], [8, 86400]]
    assert mail.split_limits({}, {"per_hour": 1, "per_day": 2}) == ([[1, 3600], [2, 86400]], {})
