"""roles/mail/library/oemhost_mail_tables.py: one task keeps all of a node's mail tables.

Runs the module as Ansible does (JSON on stdin) in a scratch directory: check, real,
check, real (changed, changed, not changed, not changed), plus the pure functions. The
host has no Postfix, so these runs use /bin/true as postmap (the decision when to run it
is tested on its own below); the real postmap runs in the molecule scenario.
"""

from __future__ import annotations

import grp
import importlib.util
import json
import os
import pwd
import subprocess
import sys

import pytest

from oemhost.config import PROJECT_DIR

MODULE = PROJECT_DIR / "roles/mail/library/oemhost_mail_tables.py"
_spec = importlib.util.spec_from_file_location("oemhost_mail_tables", MODULE)
tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tables)

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run_module(args: dict, check: bool = False, diff: bool = True) -> dict:
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check,
                                       "_ansible_diff": diff}}
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    return json.loads(proc.stdout)


def spec(path, content, mode="0644", **kw):
    return {"path": str(path), "content": content, "owner": USER, "group": GROUP,
            "mode": mode, **kw}


@pytest.fixture
def area(tmp_path):
    (tmp_path / "tls/own.example").mkdir(parents=True)
    for name in ("fullchain.pem", "privkey.pem"):
        (tmp_path / "tls/own.example" / name).write_text("x")
    (tmp_path / "tls/nocert.example").mkdir()
    return tmp_path


PASSWD_LINE = "u@a.example:{SHA512-CRYPT}$6$x\n"


def args_for(area, domains_text="a.example OK\n"):
    return {
        "directories": [{"path": str(area / "maps"), "owner": USER, "group": GROUP,
                         "mode": "0755"},
                        {"path": str(area / "dovecot"), "owner": USER, "group": GROUP,
                         "mode": "0750"}],
        "files": [spec(area / "maps/domains", domains_text),
                  spec(area / "policyd.yaml", '{"limits": []}\n', mode="0640")],
        "secret_files": [spec(area / "dovecot/passwd", PASSWD_LINE, mode="0640")],
        "users": [USER],
        "sni": {"root": str(area / "tls"), "domains": ["own.example", "nocert.example"],
                "prefixes": ["", "mail."], "postfix_map": str(area / "maps/sni.src"),
                "dovecot_conf": str(area / "dovecot/sni.conf"), "dovecot_group": GROUP},
        "header": "Managed by a test",
        "postmap": "/bin/true",
    }


def test_check_real_check_real(area):
    args = args_for(area)
    first = run_module(args, check=True)
    assert first["changed"] and not (area / "maps").exists()
    assert sorted(first["directories"]) == [str(area / "dovecot"), str(area / "maps")]

    real = run_module(args)
    assert real["changed"], real
    assert (area / "maps/domains").read_text() == "a.example OK\n"
    assert (area / "dovecot/passwd").read_text() == "u@a.example:{SHA512-CRYPT}$6$x\n"
    assert oct(os.stat(area / "dovecot/passwd").st_mode & 0o777) == "0o640"
    assert oct(os.stat(area / "dovecot").st_mode & 0o777) == "0o750"
    # secret content never appears in the result, not even in the diff
    assert "SHA512" not in json.dumps(real)
    assert {d["after_header"] for d in real["diff"]} >= {str(area / "maps/domains")}

    assert real["sni_domains"] == ["own.example"]
    assert sorted(real["rebuilt"]) == [str(area / "maps/sni.src")]
    # /bin/true made no .db, so the table still counts as stale; give it one
    (area / "maps/sni.src.db").write_text("db")
    assert run_module(args, check=True)["changed"] is False
    again = run_module(args)
    assert again["changed"] is False and again["written"] == [] and again["rebuilt"] == []


def test_a_change_is_shown_and_only_that_file_is_written(area):
    args = args_for(area)
    run_module(args)
    before = os.stat(area / "policyd.yaml").st_mtime_ns
    args["files"][0]["content"] = "a.example OK\nb.example OK\n"
    preview = run_module(args, check=True)
    assert preview["written"] == [str(area / "maps/domains")]
    assert preview["diff"][0]["after"].endswith("b.example OK\n")
    assert (area / "maps/domains").read_text() == "a.example OK\n"
    done = run_module(args)
    assert done["written"] == [str(area / "maps/domains")]
    assert os.stat(area / "policyd.yaml").st_mtime_ns == before


def test_missing_tenant_user_fails_before_anything_is_written(area):
    args = args_for(area)
    args["users"] = [USER, "nosuchtenant1"]
    out = run_module(args)
    assert out["failed"]
    assert out["msg"] == ("nosuchtenant1: id: no system user on the node "
                          "(role hosting_accounts creates it)")
    assert not (area / "maps").exists()


def test_a_refused_validation_keeps_every_file_as_it_was(area):
    args = args_for(area)
    run_module(args)
    args["files"][0]["content"] = "changed OK\n"
    args["files"][1]["content"] = "not json"
    args["files"][1]["validate"] = [sys.executable, "-c",
                                    "import json,sys; json.load(open(sys.argv[1]))", "%s"]
    out = run_module(args)
    assert out["failed"] and "policyd.yaml: validation failed" in out["msg"]
    assert (area / "maps/domains").read_text() == "a.example OK\n"
    assert (area / "policyd.yaml").read_text() == '{"limits": []}\n'
    assert sorted(p.name for p in (area / "maps").iterdir()) == ["domains", "sni.src"]


def test_sni_files_list_only_domains_with_their_certificate(area):
    have, files = tables.sni_files(
        {"root": str(area / "tls"), "domains": ["own.example", "nocert.example", "x.example"],
         "prefixes": ["", "mail."], "postfix_map": "/p", "dovecot_conf": "/d"}, "hdr")
    assert have == ["own.example"]
    chain, key = area / "tls/own.example/fullchain.pem", area / "tls/own.example/privkey.pem"
    assert files[0]["content"] == (f"# hdr\nown.example {key} {chain}\n"
                                   f"mail.own.example {key} {chain}\n")
    assert files[0]["postmap"] and files[0]["embeds"]
    assert files[1]["content"].count("local_name ") == 2
    assert f"ssl_cert = <{chain}" in files[1]["content"]


def test_postmap_when_written_missing_stale_or_a_certificate_is_newer(tmp_path):
    src, db, cert = tmp_path / "sni", tmp_path / "sni.db", tmp_path / "cert.pem"
    src.write_text("x")
    cert.write_text("c")
    entry = {"path": str(src), "content": f"name {cert}\n", "embeds": True}
    assert tables.needs_postmap(entry, written=True)
    assert tables.needs_postmap(entry, written=False)          # no .db yet
    db.write_text("db")
    os.utime(src, ns=(1_000, 1_000))
    os.utime(cert, ns=(1_000, 1_000))
    os.utime(db, ns=(2_000, 2_000))
    assert not tables.needs_postmap(entry, written=False)
    os.utime(cert, ns=(3_000, 3_000))                         # renewed certificate
    assert tables.needs_postmap(entry, written=False)
    assert not tables.needs_postmap({**entry, "embeds": False}, written=False)
    os.utime(src, ns=(4_000, 4_000))                          # edited by hand
    assert tables.needs_postmap({**entry, "embeds": False}, written=False)


def test_failed_postmap_is_an_error(area):
    args = args_for(area)
    args["postmap"] = str(area / "no-postmap")
    out = run_module(args)
    assert out["failed"] and "sni.src" in out["msg"] and "no-postmap" in out["msg"]
