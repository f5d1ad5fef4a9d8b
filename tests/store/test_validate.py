"""Record checks: patterns, free text, domains, paths, DNS values, plan limits."""

import pytest

from oemhost.store import hashing, validate

from .conftest import NODE, PLAN, RESELLER


def errs_of(fn, value):
    e = validate.Errors()
    result = fn(value, "f", e)
    return result, e.items


@pytest.mark.parametrize("value, expected", [
    ("Example.JP", "example.jp"),
    ("ドメイン.example", "xn--eckwd4c7c.example"),
    ("xn--eckwd4c7c.example", "xn--eckwd4c7c.example"),
    ("山田商店.jp", "xn--czrr0ogxbdv4b.jp"),
    ("shop.example.", "shop.example"),
    ("münchen.de", "xn--mnchen-3ya.de"),
])
def test_domains_become_lowercase_punycode(value, expected):
    assert errs_of(validate.domain_name, value) == (expected, {})


@pytest.mark.parametrize("value", [
    "localhost", "exa_mple.com", "-bad.example", "bad-.example", "a..b", "1.2.3.4",
    "ex{{a}}.com", "ex ample.com", "example.com/../etc", "x" * 64 + ".com", "",
    "\u0430pple.com",  # Cyrillic a + Latin: a look-alike of apple.com
    "paypa\u04cf.com",  # Cyrillic palochka
    "evil\u202e.com", "a\x00b.com", 42, None,
])
def test_bad_and_lookalike_domains_are_refused(value):
    result, errors = errs_of(validate.domain_name, value)
    assert result is None and errors


def test_japanese_scripts_may_mix_in_one_label():
    assert errs_of(validate.domain_name, "山田ショップさん.jp")[1] == {}
    assert errs_of(validate.domain_name, "abcショップ.jp")[1] == {}


@pytest.mark.parametrize("value", ["public_html", "public_html/uploads", "a.b/c-d_e"])
def test_relative_paths_inside_the_area(value):
    assert errs_of(validate.rel_path, value) == (value, {})


@pytest.mark.parametrize("value", [
    "../etc", "public_html/../../etc", "/etc/passwd", ".ssh", "a//b", "a/", "a/./b",
    "a\nb", "a b", "$(id)", "a;b", "~root", "x" * 300,
])
def test_paths_that_leave_their_area_are_refused(value):
    assert errs_of(validate.rel_path, value)[0] is None


@pytest.mark.parametrize("value", ["山田商店", "ACME K.K. (Tokyo)", "{{ x }}", "a; rm -rf /"])
def test_free_text_keeps_printable_text(value):
    assert errs_of(lambda v, p, e: validate.text(v, p, e, max_len=200), value) == (value, {})


@pytest.mark.parametrize("value", ["a\x00b", "a\nb", "a\u202eb", "a\u200bb", " lead", "x" * 201,
                                   "", 5])
def test_free_text_refuses_control_invisible_and_oversized(value):
    assert errs_of(lambda v, p, e: validate.text(v, p, e, max_len=200), value)[0] is None


@pytest.mark.parametrize("rtype, value, normal", [
    ("A", "192.0.2.1", "192.0.2.1"),
    ("AAAA", "2001:db8::1", "2001:db8::1"),
    ("MX", "10 mail", "10 mail.shop.example."),
    ("CNAME", "www.other.example.", "www.other.example."),
    ("TXT", 'v=spf1 mx -all "quoted"', 'v=spf1 mx -all "quoted"'),
    ("CAA", '0 issue "letsencrypt.org"', '0 issue "letsencrypt.org"'),
    ("SRV", "0 5 5060 sip", "0 5 5060 sip.shop.example."),
])
def test_dns_values_are_checked_and_canonical(rtype, value, normal):
    e = validate.Errors()
    assert validate.dns_value(rtype, value, "shop.example", "v", e) == normal
    assert not e


@pytest.mark.parametrize("rtype, value", [
    ("A", "1.2.3"), ("A", "192.0.2.1; rm"), ("MX", "10 mail\n@ IN NS evil."),
    ("MX", "mail"), ("TXT", "tab\tx"), ("TXT", "é"), ("CNAME", "$(id)"), ("AAAA", "::g"),
])
def test_bad_dns_values_are_refused(rtype, value):
    e = validate.Errors()
    assert validate.dns_value(rtype, value, "shop.example", "v", e) is None
    assert e


@pytest.mark.parametrize("value, ok", [
    ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null", True),
    ("-oStrictHostKeyChecking=no", True),
    ("-o ProxyCommand=nc", False),
    ("-o LocalCommand=id -o PermitLocalCommand=yes", False),
    ("-F /tmp/x", False),
    ("-o User=$(id)", False),
    ("-o A=b\n-o C=d", False),
])
def test_ssh_common_args(value, ok):
    assert (errs_of(validate._ssh_common_args, value)[1] == {}) is ok


def test_reseller_node_and_plan_defaults_and_errors():
    rec, errors = validate.check_reseller(RESELLER)
    assert not errors and rec["status"] == "active" and rec["brand"]["logo_url"] == ""
    rec, errors = validate.check_node(NODE)
    assert not errors and rec["connection"] == {"user": None, "port": None,
                                                "private_key_file": None,
                                                "ssh_common_args": None}
    rec, errors = validate.check_plan({**PLAN, "reseller": "acme", "default_web_mb": 5000})
    assert errors == {"default_web_mb": "must not exceed disk_mb"}
    _, errors = validate.check_node({**NODE, "infra": {"provider": "ipmi", "params": {}},
                                     "colour": "red", "services": ["web", "gopher"]})
    assert set(errors) == {"infra.params.host", "colour", "services[1]"}
    _, errors = validate.check_reseller({**RESELLER, "id": "shared"})
    assert "id" in errors


def _tenant(**extra):
    rec = {"id": "shop1", "reseller": "acme", "plan": "basic", "node": "node1",
           "contractor": "X", "contract_date": "2026-11-01", "start_date": "2026-11-01",
           "contact_email": "a@b.example", "disk": {"web_mb": 1500, "mail_mb": 500},
           "password_hash": hashing.sha512_crypt("tenant-password-1"),
           "domains": [{"name": "shop1.example"}]}
    rec.update(extra)
    return rec


def test_tenant_record_fills_defaults():
    rec, errors = validate.check_tenant(_tenant())
    assert errors == {}
    assert rec["domains"][0] == {"name": "shop1.example", "docroot": "public_html", "aliases": [],
                                 "tls": {"mode": "selfsigned", "cert_ref": None},
                                 "https_redirect": False, "php_version": None}
    assert rec["status"] == "active" and rec["mailboxes"] == []


@pytest.mark.parametrize("extra, field", [
    ({"id": "root"}, "id"),
    ({"id": "Shop1"}, "id"),
    ({"id": "sh"}, "id"),
    ({"password_hash": "plaintext"}, "password_hash"),
    ({"contract_date": "2026-02-30"}, "contract_date"),
    ({"start_date": "2026-10-01"}, "start_date"),
    ({"mailboxes": [{"address": "info@other.example", "quota_mb": 1,
                     "password_hash": hashing.dovecot_hash("x" * 8)}]}, "mailboxes[0].address"),
    ({"ftp_accounts": [{"name": "other-up", "password_hash": hashing.sha512_crypt("x" * 8)}]},
     "ftp_accounts[0].name"),
    ({"databases": [{"engine": "mariadb", "name": "shop1_db", "user": "shop1_db",
                     "password_hash": hashing.postgres_scram_sha256("x" * 8)}]},
     "databases[0].password_hash"),
    ({"dns_records": [{"zone": "shop1.example", "name": "@", "type": "CNAME",
                       "value": "x.example."}]}, "dns_records[0].name"),
    ({"domains": [{"name": "shop1.example", "aliases": ["shop1.example"]}]},
     "domains[0].aliases[0]"),
    ({"domains": [{"name": "shop1.example", "docroot": "../x"}]}, "domains[0].docroot"),
    ({"extra_field": 1}, "extra_field"),
    ({"status": "active", "status_reason": "why"}, "status_reason"),
])
def test_tenant_record_errors_name_the_field(extra, field):
    _, errors = validate.check_tenant(_tenant(**extra))
    assert field in errors, errors


def test_plan_limits_are_relation_errors():
    rec, _ = validate.check_tenant(_tenant(
        ssh=True, disk={"web_mb": 1800, "mail_mb": 500},
        domains=[{"name": f"d{i}.example"} for i in range(4)],
        mailboxes=[{"address": "big@d0.example", "quota_mb": 1500,
                    "password_hash": hashing.dovecot_hash("x" * 8)}]))
    plan, _ = validate.check_plan({**PLAN, "reseller": "acme"})
    node, _ = validate.check_node({**NODE, "services": ["web"]})
    errors = validate.tenant_relation_errors(validate.tenant_summary(rec), plan=plan,
                                             reseller=RESELLER, node=node)
    assert set(errors) == {"ssh", "disk", "domains", "mailboxes", "mailboxes[0].quota_mb"}
    assert "does not run mail" in errors["mailboxes"]
