"""The batched zone module: the records it makes, safe rendering, serials, and the module
run against real named-checkzone / named-checkconf (Debian bind9-utils on the host)."""

from __future__ import annotations

import datetime
import ipaddress
import shutil

import pytest
from modload import load

m = load("oemhost_dns_zones")

ADDR = "192.0.2.11"
PLAN = {"dns": True, "mail": True}


def tenant(tid="shop1", domains=("shop1.example",), records=(), limits=PLAN, aliases=None):
    return {"id": tid, "status": "active", "plan": "basic", "limits": limits,
            "domains": [{"name": d, "aliases": aliases if aliases is not None else [f"www.{d}"]}
                        for d in domains],
            "dns_records": list(records)}


def rec(name, rtype, value, zone="shop1.example", ttl=3600):
    return {"zone": zone, "name": name, "type": rtype, "value": value, "ttl": ttl}


def zones(*tenants, addresses=(ADDR,), **kw):
    return m.build_zones([{"addresses": list(addresses), "tenants": list(tenants)}], **kw)


def records(zone):
    return [(r.name, r.type, r.value) for r in zone.records]


SHOP2 = tenant("shop2", domains=["shop2.example"])


# --- records -----------------------------------------------------------------------------------

def test_default_records_of_a_mail_plan():
    z = zones(tenant(aliases=["www.shop1.example", "blog.shop1.example", "other.example"]))
    assert records(z["shop1.example"]) == [
        ("@", "NS", "ns1.shop1.example."), ("ns1", "A", ADDR), ("@", "A", ADDR),
        ("www", "A", ADDR), ("blog", "A", ADDR), ("@", "MX", "10 mail.shop1.example."),
        ("mail", "A", ADDR), ("@", "TXT", f"v=spf1 mx ip4:{ADDR} -all")]


def test_plan_without_mail_says_so():
    z = zones(tenant(limits={"dns": True, "mail": False}))["shop1.example"]
    assert ("@", "MX", "0 .") in records(z)
    assert ("@", "TXT", "v=spf1 -all") in records(z)
    assert not any(r.name == "mail" for r in z.records)


def test_provider_nameservers_mail_host_and_ipv6():
    z = zones(tenant(), addresses=(ADDR, "2001:db8::11"),
              nameservers=["ns1.provider.example", "ns2.provider.example."],
              mail_host="mx.provider.example")["shop1.example"]
    r = records(z)
    assert r[:2] == [("@", "NS", "ns1.provider.example."), ("@", "NS", "ns2.provider.example.")]
    assert ("www", "AAAA", "2001:db8::11") in r
    assert ("@", "MX", "10 mx.provider.example.") in r
    assert not any(name in ("ns1", "mail") for name, _, _ in r)
    assert ("@", "TXT", f"v=spf1 mx ip4:{ADDR} ip6:2001:db8::11 -all") in r


def test_tenant_records_replace_the_defaults_of_their_name_and_type():
    z = zones(tenant(records=[
        rec("www", "CNAME", "shop1.example.net."),
        rec("@", "MX", "10 aspmx.l.google.com."),
        rec("@", "TXT", "google-site-verification=abc"),
        rec("@", "A", "198.51.100.7"),
    ]))["shop1.example"]
    r = records(z)
    assert ("www", "A", ADDR) not in r and ("www", "CNAME", "shop1.example.net.") in r
    assert ("@", "A", ADDR) not in r and ("@", "A", "198.51.100.7") in r
    assert [v for n, t, v in r if t == "MX"] == ["10 aspmx.l.google.com."]
    # an own MX drops the default SPF (it would name the wrong servers); other TXT stay
    assert [v for n, t, v in r if t == "TXT"] == ["google-site-verification=abc"]
    assert not any(name == "mail" for name, _, _ in r)


def test_own_spf_replaces_the_default_one():
    z = zones(tenant(records=[rec("@", "TXT", "v=spf1 include:_spf.example.net -all")]))
    txt = [v for n, t, v in records(z["shop1.example"]) if t == "TXT"]
    assert txt == ["v=spf1 include:_spf.example.net -all"]


def test_plans_without_dns_get_no_zone_and_may_not_hold_records():
    assert zones(tenant(limits={"dns": False, "mail": True})) == {}
    with pytest.raises(m.InputError, match="tenant shop1: dns_records: plan basic has no DNS"):
        zones(tenant(limits={"dns": False}, records=[rec("@", "TXT", "x")]))


def test_a_zone_per_domain_and_record_zones():
    z = zones(tenant(domains=["shop1.example", "shop1.example.org"],
                     records=[rec("x", "A", "198.51.100.1", zone="shop1.example.org"),
                              {"name": "y", "type": "A", "value": "198.51.100.2"}]))
    assert sorted(z) == ["shop1.example", "shop1.example.org"]
    assert ("x", "A", "198.51.100.1") in records(z["shop1.example.org"])
    # no zone given: the tenant's first domain (docs/INVENTORY.md's short form)
    assert ("y", "A", "198.51.100.2") in records(z["shop1.example"])


def test_two_tenants_cannot_share_a_zone():
    with pytest.raises(m.InputError, match="tenant shop2: domains: shop1.example is also a zone "
                                           "of tenant shop1"):
        zones(tenant(), tenant("shop2"))


@pytest.mark.parametrize(("record", "message"), [
    (rec("x", "A", "1.2.3.4\n$INCLUDE /etc/shadow"), "dns_records[0].value: is not a valid A"),
    (rec("x", "MX", "10 mail.example. ; comment"), "is not a valid MX value"),
    (rec("x", "MX", "10 (mail.example.)"), "is not a valid MX value"),
    (rec("x", "CAA", '0 issue "ca.example" x'), "must look like"),
    (rec("x", "TXT", "new\nline"), "printable ASCII"),
    (rec("x", "TXT", "ü"), "printable ASCII"),
    (rec("x y", "A", "1.2.3.4"), "dns_records[0].name: must be @ or a name"),
    (rec("x\n@", "A", "1.2.3.4"), "dns_records[0].name"),
    (rec("x\n", "A", "1.2.3.4"), "dns_records[0].name"),
    (rec("x", "A", "1.2.3.4\n"), "dns_records[0].value"),
    (rec("a.*", "A", "1.2.3.4"), "dns_records[0].name"),
    (rec("x", "NS", "ns.example."), "dns_records[0].type: must be one of"),
    (rec("x", "A", "1.2.3.4", zone="other.example"), "dns_records[0].zone: 'other.example'"),
    (rec("x", "A", "1.2.3.4", ttl=5), "dns_records[0].ttl: must be a number of seconds"),
])
def test_unsafe_records_are_refused_naming_tenant_and_field(record, message):
    with pytest.raises(m.InputError) as exc:
        zones(tenant(records=[record]))
    assert str(exc.value).startswith("tenant shop1: ")
    assert message in str(exc.value)


@pytest.mark.parametrize("bad", ["Shop1.example", "shop1", "-a.example", "a..example",
                                 "a.example\n", "a.123", "x" * 64 + ".example"])
def test_bad_domains_are_refused(bad):
    with pytest.raises(m.InputError, match=r"domains\[0\].name"):
        zones(tenant(domains=[bad]))


def test_bad_addresses_and_nameservers_are_refused():
    with pytest.raises(m.InputError, match="sources\\[0\\].addresses: 'x; y' is not an IP"):
        zones(tenant(), addresses=["x; y"])
    with pytest.raises(m.InputError, match="nameservers"):
        zones(tenant(), nameservers=["ns1.example; x"])


# --- rendering and serials -----------------------------------------------------------------

def test_txt_is_quoted_escaped_and_split():
    assert m.txt_rdata('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    chunks = m.txt_rdata("a" * 300)
    assert chunks == '"' + "a" * 255 + '" "' + "a" * 45 + '"'


def test_render_keeps_content_apart_from_serial():
    z = zones(tenant())["shop1.example"]
    one, two = m.render(z, 2026010100), m.render(z, 2026010105)
    assert one != two and m.without_serial(one) == m.without_serial(two)
    assert m.serial_of(two) == 2026010105
    assert "; tenant: shop1" in one and "$ORIGIN shop1.example." in one
    assert "hostmaster.shop1.example." in one
    assert "hostmaster.provider.example." in m.render(z, 1,
                                                      hostmaster="hostmaster@provider.example")
    assert "first\\.last.provider.example." in m.render(z, 1,
                                                        hostmaster="first.last@provider.example")


def test_next_serial():
    day = datetime.date(2026, 11, 24)
    assert m.next_serial(0, day) == 2026112400
    assert m.next_serial(2026112400, day) == 2026112401
    assert m.next_serial(2026010107, day) == 2026112400
    assert m.next_serial(2026112499, day) == 2026112500   # 100 changes in a day: still up


def test_zones_conf_lists_sorted_zones():
    text = m.zones_conf({"b.example", "a.example"}, "/z")
    assert text.splitlines()[1:] == [
        'zone "a.example" { type primary; file "/z/a.example.zone"; };',
        'zone "b.example" { type primary; file "/z/b.example.zone"; };']


def test_addresses_are_parsed():
    assert m.address_list(["2001:db8::1"], "x")[0] == ipaddress.ip_address("2001:db8::1")


# --- the module, with the real checkers --------------------------------------------------------

needs_bind = pytest.mark.skipif(not shutil.which("named-checkzone"),
                                reason="needs named-checkzone (Debian bind9-utils; make host-deps)")


@pytest.fixture
def zone_args(tmp_path):
    def args(*tenants, **kw):
        return {"sources": [{"addresses": [ADDR], "tenants": list(tenants)}],
                "zone_dir": str(tmp_path / "zones"), "conf_file": str(tmp_path / "conf/zones.conf"),
                "group": "root", "reload": False,
                "checkzone": shutil.which("named-checkzone") or "/usr/bin/named-checkzone",
                "checkconf": shutil.which("named-checkconf") or "/usr/bin/named-checkconf", **kw}
    return args


@needs_bind
def test_check_real_check_real(run_module_raw, zone_args, tmp_path):
    args = zone_args(tenant(), tenant("shop2", domains=["shop2.example"]))
    runs = [run_module_raw("oemhost_dns_zones", args, check_mode=cm, diff=True)[0]
            for cm in (True, False, True, False)]
    assert [r["changed"] for r in runs] == [True, True, False, False]
    assert all(not r.get("failed") for r in runs)
    assert runs[0]["added"] == ["shop1.example", "shop2.example"] and runs[2]["added"] == []
    assert "v=spf1" in runs[0]["diff"][0]["after"]
    zone_file = tmp_path / "zones/shop1.example.zone"
    assert zone_file.exists() and (tmp_path / "conf/zones.conf").read_text().count("zone ") == 2
    assert runs[1]["zones"] == runs[3]["zones"]


@needs_bind
def test_check_mode_on_an_empty_node_writes_nothing(run_module_raw, zone_args, tmp_path):
    result, _ = run_module_raw("oemhost_dns_zones", zone_args(tenant()), check_mode=True)
    assert result["changed"] and not (tmp_path / "zones").exists()


@needs_bind
def test_a_change_bumps_the_serial_and_removal_deletes(run_module_raw, zone_args, tmp_path):
    first, _ = run_module_raw("oemhost_dns_zones", zone_args(tenant(), SHOP2))
    second, _ = run_module_raw("oemhost_dns_zones", zone_args(
        tenant(records=[rec("new", "A", "198.51.100.9")])))
    assert second["updated"] == ["shop1.example"] and second["removed"] == ["shop2.example"]
    assert second["zones"]["shop1.example"] > first["zones"]["shop1.example"]
    assert "new\t3600\tIN\tA\t198.51.100.9" in (tmp_path / "zones/shop1.example.zone").read_text()
    assert not (tmp_path / "zones/shop2.example.zone").exists()
    assert "shop2" not in (tmp_path / "conf/zones.conf").read_text()


@needs_bind
def test_a_broken_record_keeps_the_old_zone(run_module_raw, zone_args, tmp_path):
    good, _ = run_module_raw("oemhost_dns_zones", zone_args(tenant(), SHOP2))
    before = (tmp_path / "zones/shop1.example.zone").read_text()
    broken, _ = run_module_raw("oemhost_dns_zones", zone_args(
        tenant(records=[rec("bad", "A", "10.0.0.300")]),
        tenant("shop2", domains=["shop2.example"], records=[rec("ok", "A", "198.51.100.3",
                                                                zone="shop2.example")])))
    assert broken["failed"] is True
    assert "tenant shop1: zone shop1.example" in broken["msg"]
    assert "bad dotted quad" in broken["msg"]
    assert ".tmp" not in broken["msg"]
    assert (tmp_path / "zones/shop1.example.zone").read_text() == before
    assert broken["zones"]["shop1.example"] == good["zones"]["shop1.example"]
    # the other tenant's good change went in
    assert broken["updated"] == ["shop2.example"]
    assert not [p for p in (tmp_path / "zones").iterdir() if p.name.endswith(".tmp")]


@needs_bind
def test_a_new_broken_zone_is_not_listed(run_module_raw, zone_args, tmp_path):
    result, _ = run_module_raw("oemhost_dns_zones", zone_args(
        tenant(records=[rec("www", "CNAME", "x.example."), rec("www", "TXT", "also here")])))
    assert result["failed"] is True and "CNAME and other data" in result["msg"]
    assert not (tmp_path / "zones/shop1.example.zone").exists()
    assert "shop1" not in (tmp_path / "conf/zones.conf").read_text()


@needs_bind
def test_scope_touches_only_the_scoped_tenants(run_module_raw, zone_args, tmp_path):
    run_module_raw("oemhost_dns_zones", zone_args(tenant(), SHOP2))
    result, _ = run_module_raw("oemhost_dns_zones", zone_args(
        tenant(records=[rec("new", "A", "198.51.100.9")]), scope=["shop2"]))
    # shop1 changed and shop2 is gone from the list, but only shop2 is in scope
    assert result["updated"] == [] and result["removed"] == ["shop2.example"]
    assert "new" not in (tmp_path / "zones/shop1.example.zone").read_text()


def test_validate_only_needs_no_checker(run_module_raw, zone_args):
    args = zone_args(tenant(records=[rec("x", "MX", "10 a.example.;rm")]), validate_only=True,
                     checkzone="/nonexistent")
    result, _ = run_module_raw("oemhost_dns_zones", args)
    assert result["failed"] and result["msg"].startswith("tenant shop1: dns_records[0].value")
    result, _ = run_module_raw("oemhost_dns_zones", dict(zone_args(tenant()), validate_only=True))
    assert not result.get("failed") and result["zones"] == {"shop1.example": 0}
