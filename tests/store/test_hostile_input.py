"""Hostile strings through the store, then a real ansible-playbook run over the result.

Every value is either refused by the store (and nothing is written) or stored and seen
by Ansible exactly as written: no template is rendered, no YAML tag acts, no shell word
is split, and no canary file appears. A positive control shows that the same string in a
plain host_vars file *does* run on ansible-core 2.21, so this test can fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from oemhost.errors import OemhostError, ValidationError
from oemhost.store import Store

from .conftest import PLAN, git, run_ansible, tenant_record

PLAY = """\
- name: Use every value the way roles do
  hosts: hosting_nodes
  gather_facts: false
  connection: local
  tasks:
    - name: Dump the variables
      ansible.builtin.copy:
        content: "{{ {'tenants': oemhost_tenants, 'node': oemhost_node} | to_json }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
    - name: Render them through a template
      ansible.builtin.template:
        src: "{{ out_dir }}/tenants.j2"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.rendered"
        mode: "0600"
    - name: Pass them to a command as argv
      ansible.builtin.command:
        argv: [printf, "%s", "{{ item.contractor }}"]
      loop: "{{ oemhost_tenants }}"
      loop_control:
        label: "{{ item.id }}"
      register: printed
      changed_when: false
    - name: Keep what the command printed
      ansible.builtin.copy:
        content: "{{ printed.results | map(attribute='stdout') | list | to_json }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.printed"
        mode: "0600"
    - name: Show one in a message
      ansible.builtin.debug:
        msg: "{{ oemhost_tenants[0].contractor if oemhost_tenants else '' }}"
"""

TEMPLATE = """{% for t in oemhost_tenants %}
contractor={{ t.contractor }}
reason={{ t.status_reason }}
plan={{ t.limits.name }}
brand={{ t.reseller_brand.display_name }}
{% for m in t.mailboxes %}lock={{ m.locked.reason if m.locked else '' }}
{% endfor %}
{% for r in t.dns_records %}txt={{ r.value }}
{% endfor %}
{% endfor %}
"""


def hostile_values(canary_dir: Path) -> list[str]:
    c = canary_dir
    return [
        f"{{{{ lookup('pipe', 'touch {c}/canary1') }}}}",
        f"{{% set x = lookup('pipe', 'touch {c}/canary2') %}}x{{{{ x }}}}",
        f"{{{{ query('ansible.builtin.pipe', 'touch {c}/canary3') }}}}",
        f"!!python/object/apply:os.system ['touch {c}/canary4']",
        "&anchor *alias <<: {a: 1}",
        f"$(touch {c}/canary5); `touch {c}/canary6` | tee >x && echo",
        "{{ 7 * 7 }} {# comment #} {%raw%}",
        "../../../etc/passwd",
        "a\x00b",
        "X" * 10240,
        "\u0430pple.com",
        "xn--pple-43d.com",
        "'\"\\ quotes and backslash",
        "山田商店 {{ }}",
        "\u202eevil",
        "line\nbreak",
    ]


def write(store: Store, fn, record: list, field: str, value: str) -> None:
    """Run one write; record whether it was accepted. A refusal must change nothing."""
    head = git(store.root, "rev-parse", "HEAD")
    status = git(store.root, "status", "--porcelain")
    try:
        fn()
    except (ValidationError, OemhostError) as exc:
        assert git(store.root, "rev-parse", "HEAD") == head, f"{field} refused but committed"
        assert git(store.root, "status", "--porcelain") == status
        record.append((field, value, "refused", str(exc)))
        return
    record.append((field, value, "accepted", None))


def hostile_writes(store: Store, i: int, v: str) -> dict:
    """Each way a user-supplied string reaches the store, for hostile value ``v``."""
    rid, tid, node = f"rv{i:02d}", f"h{i:02d}x", f"hn{i:02d}"
    primary = f"{tid}.example"
    pw = "hostile-pass-1"
    a = "ops:t"
    return {
        "tenant.contractor": lambda: store.change_tenant(tid, {"contractor": v}, actor=a),
        "tenant.status_reason": lambda: store.set_tenant_status(tid, "suspended", reason=v,
                                                                actor=a),
        "tenant.customer_number": lambda: store.change_tenant(tid, {"customer_number": v},
                                                              actor=a),
        "tenant.contact_email": lambda: store.change_tenant(tid, {"contact_email": v},
                                                            actor=a),
        "tenant.id": lambda: store.add_tenant(tenant_record(v, reseller=rid, plan="pp",
                                                            node=node), password=pw, actor=a),
        "domain.name": lambda: store.add_domain(tid, v, actor=a),
        "domain.docroot": lambda: store.add_domain(tid, f"doc-{tid}.example", docroot=v,
                                                   actor=a),
        "domain.alias": lambda: store.add_domain(tid, f"alias-{tid}.example", aliases=[v],
                                                 actor=a),
        "domain.php_version": lambda: store.change_domain(tid, primary,
                                                          {"php_version": v}, actor=a),
        "mailbox.address": lambda: store.add_mailbox(tid, v, pw, 10, actor=a),
        "mailbox.forward": lambda: store.add_mailbox(tid, f"fw@{primary}", pw, 10,
                                                     forwards=[v], actor=a),
        "mailbox.lock_reason": lambda: store.lock_mailbox(tid, f"box@{primary}", v,
                                                          actor="monitor"),
        "ftp.name": lambda: store.add_ftp_account(tid, v, pw, actor=a),
        "ftp.dir": lambda: store.add_ftp_account(tid, "d", pw, dir=v, actor=a),
        "db.name": lambda: store.add_database(tid, "mariadb", v, pw, actor=a),
        "dns.txt": lambda: store.set_dns_records(tid, primary, [
            {"name": "@", "type": "TXT", "value": v}], actor=a),
        "dns.name": lambda: store.set_dns_records(tid, f"dns2-{tid}.example", [
            {"name": v, "type": "A", "value": "192.0.2.1"}], actor=a),
        "dns.mx": lambda: store.set_dns_records(tid, f"dns2-{tid}.example", [
            {"name": "@", "type": "MX", "value": f"10 {v}"}], actor=a),
        "reseller.company": lambda: store.change_reseller(rid, {"company": v}, actor=a),
        "reseller.display_name": lambda: store.change_reseller(
            rid, {"brand": {"display_name": v}}, actor=a),
        "reseller.logo_url": lambda: store.change_reseller(rid, {"brand": {"logo_url": v}},
                                                           actor=a),
        "reseller.contact": lambda: store.change_reseller(rid, {"contacts": [v]}, actor=a),
        "plan.name": lambda: store.change_plan(rid, "pp", {"name": v}, actor=a),
        "node.infra_param": lambda: store.put_node({
            "name": node, "address": "127.0.0.1",
            "services": ["web", "mail", "ftp", "mariadb", "postgresql", "dns"],
            "infra": {"provider": "lab", "params": {"node": node, "note": v}}}, actor=a),
        "node.ssh_common_args": lambda: store.put_node({
            "name": node, "address": "127.0.0.1",
            "services": ["web", "mail", "ftp", "mariadb", "postgresql", "dns"],
            "connection": {"ssh_common_args": v},
            "infra": {"provider": "lab", "params": {"node": node}}}, actor=a),
        "commit.reason": lambda: store.change_tenant(tid, {"ssh": False}, reason=v,
                                                     actor=a),
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    canaries = base / "canaries"
    canaries.mkdir()
    store = Store.init(base / "inv")
    values = hostile_values(canaries)
    outcomes: list[tuple[str, str, str, str | None]] = []
    for i, v in enumerate(values):
        rid, tid, node = f"rv{i:02d}", f"h{i:02d}x", f"hn{i:02d}"
        primary = f"{tid}.example"
        store.add_reseller({"id": rid, "company": "Safe Co", "brand": {"display_name": "Safe"}},
                           actor="ops:t")
        store.add_plan(rid, {**PLAN, "id": "pp", "max_domains": 10, "max_mailboxes": 10,
                             "max_ftp_accounts": 10}, actor="ops:t")
        store.put_node({"name": node, "address": "127.0.0.1", "services": [
            "web", "mail", "ftp", "mariadb", "postgresql", "dns"],
            "infra": {"provider": "lab", "params": {"node": node}}}, actor="ops:t")
        store.add_tenant(tenant_record(tid, reseller=rid, plan="pp", node=node,
                                       domains=[primary]), password="tenant-password-1",
                         actor="ops:t")
        store.add_mailbox(tid, f"box@{primary}", "mailbox-pass-1", 10, actor="ops:t")
        store.add_domain(tid, f"dns2-{tid}.example", actor="ops:t")
        for field, fn in hostile_writes(store, i, v).items():
            write(store, fn, outcomes, field, v)
    out = base / "out"
    out.mkdir()
    (out / "tenants.j2").write_text(TEMPLATE)
    (out / "play.yml").write_text(PLAY)
    proc = run_ansible(["ansible-playbook", "-i", str(store.root), "play.yml",
                        "-e", f"out_dir={out}"], cwd=out)
    listing = run_ansible(["ansible-inventory", "-i", str(store.root), "--list"], cwd=out)
    return {"store": store, "values": values, "outcomes": outcomes, "play": proc,
            "listing": listing, "out": out, "canaries": canaries}


def test_the_playbook_ran_and_no_canary_was_created(hostile):
    play = hostile["play"]
    assert play.returncode == 0, play.stdout[-3000:] + play.stderr[-3000:]
    assert hostile["listing"].returncode == 0, hostile["listing"].stderr
    assert list(hostile["canaries"].iterdir()) == []


def test_identifiers_never_take_hostile_text(hostile):
    accepted = {(f, v) for f, v, result, _ in hostile["outcomes"] if result == "accepted"}
    identifier_fields = {"tenant.customer_number", "tenant.contact_email", "tenant.id",
                         "domain.name", "domain.docroot", "domain.alias",
                         "domain.php_version", "mailbox.address", "mailbox.forward",
                         "ftp.name", "ftp.dir", "db.name", "dns.name", "dns.mx",
                         "reseller.logo_url", "reseller.contact", "node.ssh_common_args"}
    # an identifier that was accepted is plain ASCII of a few safe characters: nothing a
    # template, a shell, a config file or a path could take as syntax
    safe = re.compile(r"^[A-Za-z0-9._@+-]*$")
    bad = {(f, v) for f, v in accepted if f in identifier_fields
           and (not safe.match(v) or ".." in v)}
    assert not bad
    # the same text is fine where it is only shown to people
    for field in ("tenant.contractor", "reseller.company", "plan.name", "dns.txt",
                  "mailbox.lock_reason", "commit.reason"):
        assert (field, hostile["values"][0]) in accepted


def test_nul_oversized_and_invisible_text_is_refused_everywhere(hostile):
    for field, value, result, message in hostile["outcomes"]:
        if "\x00" in value or len(value) > 5000 or "\u202e" in value or "\n" in value:
            assert result == "refused", (field, value[:40])
            assert message and "\n" not in message  # one clear line


def test_lookalike_domains_are_refused(hostile):
    for field, value, result, _ in hostile["outcomes"]:
        if field == "domain.name" and value in ("\u0430pple.com", "xn--pple-43d.com"):
            assert result == "refused"


def test_every_accepted_value_reaches_ansible_unchanged(hostile):
    store, out = hostile["store"], hostile["out"]
    checked = 0
    for node in sorted(store.refresh().nodes):
        seen = json.loads((out / f"{node}.json").read_text())
        tenants = {t["id"]: t for t in seen["tenants"]}
        for tid, t in tenants.items():
            record = store.get_tenant(tid).to_dict()
            assert {k: v for k, v in t.items() if k not in ("limits", "reseller_brand")} \
                == record
            plan = store.get_plan(t["reseller"], t["plan"]).to_dict()
            assert t["limits"] == plan
            assert t["reseller_brand"] == store.get_reseller(t["reseller"]).to_dict()["brand"]
            checked += 1
        assert seen["node"] == store.get_node(node).to_dict()
        printed = json.loads((out / f"{node}.printed").read_text())
        assert printed == [t["contractor"] for t in seen["tenants"]]
        rendered = (out / f"{node}.rendered").read_text()
        for t in seen["tenants"]:
            assert f"contractor={t['contractor']}\n" in rendered
    assert checked == len(hostile["values"])
    # what was accepted as free text is stored exactly as given
    accepted = [(f, v) for f, v, r, _ in hostile["outcomes"] if r == "accepted"]
    texts = {"tenant.contractor": lambda s, i: s.get_tenant(f"h{i:02d}x").contractor,
             "plan.name": lambda s, i: s.get_plan(f"rv{i:02d}", "pp").name,
             "reseller.company": lambda s, i: s.get_reseller(f"rv{i:02d}").company}
    values = hostile["values"]
    for field, value in accepted:
        if field in texts:
            assert texts[field](store, values.index(value)) == value


def test_commit_reasons_are_kept_verbatim(hostile):
    log = git(hostile["store"].root, "log", "--format=%B")
    for field, value, result, _ in hostile["outcomes"]:
        if field == "commit.reason" and result == "accepted":
            assert f"Reason: {value}" in log


def test_positive_control_host_vars_are_templated(tmp_path):
    """The same string in a trusted host_vars file runs the lookup: the test can fail."""
    canary = tmp_path / "control-canary"
    inv = tmp_path / "inv"
    (inv / "host_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text("all:\n  hosts:\n    ctl:\n      ansible_connection: local\n")
    (inv / "host_vars" / "ctl.yml").write_text(
        f"contractor: \"{{{{ lookup('pipe', 'touch {canary}') }}}}\"\n")
    (tmp_path / "play.yml").write_text(
        "- hosts: ctl\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: \"{{ contractor }}\"\n")
    proc = run_ansible(["ansible-playbook", "-i", str(inv), "play.yml"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert canary.exists()
