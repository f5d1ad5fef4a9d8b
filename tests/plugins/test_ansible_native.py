"""The hosting filters read the tenant list as plain data (oemhost/ansible_native.py), in a
real ansible-playbook run: same results as before, a trusted template in test data is
still rendered, a template-looking string from an untrusted source is never run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from oemhost.ansible_native import native

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_native_copies_plain_data():
    data = [{"id": "a", "domains": [{"name": "a.example"}]}, ("x", 1)]
    out = native(data)
    assert out == [{"id": "a", "domains": [{"name": "a.example"}]}, ["x", 1]]
    assert out[0] is not data[0] and out[0]["domains"] is not data[0]["domains"]
    assert native("text") == "text" and native(None) is None


def tenant(tid: str, **kw) -> dict:
    t = {"id": tid, "status": "active", "domains": [
        {"name": f"{tid}.example", "docroot": "public_html", "aliases": [],
         "tls": {"mode": "selfsigned"}}]}
    t.update(kw)
    return t


PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  vars:
    # parsed data is not trusted as a template, as the inventory plugins' data is not
    untrusted_tenants: "{{ lookup('ansible.builtin.file', untrusted_file) | from_json }}"
  tasks:
    - name: Write what the filters return
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ result | to_json }}"
        mode: "0600"
      vars:
        result:
          scope: "{{ oemhost_tenants | oemhost_hosting_scope(['t2', 't3']) }}"
          all: "{{ oemhost_tenants | oemhost_hosting_scope(None) | map(attribute='id') }}"
          sites: "{{ oemhost_tenants | oemhost_hosting_scope(['t3'])
                     | oemhost_web_sites('/srv/hosting', '/etc/tls') }}"
          certs: "{{ oemhost_tenants | oemhost_web_certificates | length }}"
          untrusted: "{{ untrusted_tenants | oemhost_hosting_scope(['u1']) }}"
"""


def test_filters_in_a_playbook(tmp_path):
    marker = tmp_path / "ran"
    hostile = "{{ lookup('ansible.builtin.pipe', 'touch " + str(marker) + "') }}"
    tenants = [tenant("t1"), tenant("t2"), tenant("t3", contractor="{{ 'ren' ~ 'dered' }}")]
    (tmp_path / "host_vars").mkdir()
    # host_vars files are trusted by Ansible: the template in t3 is rendered, as before
    (tmp_path / "host_vars" / "localhost.yml").write_text(
        yaml.safe_dump({"oemhost_tenants": tenants}))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(
        {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                         "ansible_python_interpreter": sys.executable}}}}))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    # a string that only looks like a template (as data from the store does) is kept as is
    (tmp_path / "untrusted.json").write_text(json.dumps([tenant("u1", contractor=hostile)]))
    out = tmp_path / "out.json"
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"))
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"),
         str(tmp_path / "play.yml"), "-e", f"out={out}",
         "-e", f"untrusted_file={tmp_path / 'untrusted.json'}"],
        capture_output=True, text=True, env=env, cwd=PROJECT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert [t["id"] for t in res["scope"]] == ["t2", "t3"]
    assert res["scope"][1]["contractor"] == "rendered"
    assert res["all"] == ["t1", "t2", "t3"]
    assert res["sites"][0]["domains"][0]["docroot"] == "/srv/hosting/t3/web/public_html"
    assert res["certs"] == 3
    assert res["untrusted"][0]["contractor"] == hostile
    assert not marker.exists()
